// Globs for --include/--exclude, by picomatch: `*`, `?`, `**`, `{a,b}`, `[abc]` / `[^abc]`
// classes, extglobs such as `+(a|b)`, and `\x` escapes (write `\(` for a parenthesis in a name).
// Dotfiles match too: a corpus directory's `.notes.md` is a file like any other.
import picomatch from 'picomatch';

/** A RegExp that matches exactly the relative, '/'-separated paths the glob matches. */
export function globToRegExp(pattern: string): RegExp {
  if (pattern.startsWith('/')) {
    throw new Error(`glob "${pattern}": patterns are relative to the directory; drop the leading "/"`);
  }
  return picomatch.makeRe(pattern, { dot: true });
}
