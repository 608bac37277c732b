export { encodeText } from '../text.js';
