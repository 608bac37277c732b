/*
 * A small glob matcher for relative, '/'-separated paths (Node 20 has no fs.glob). Supported:
 *   `*`      any run of characters within one path segment
 *   `?`      one character other than '/'
 *   `**`     as a whole segment: zero or more segments (`**` alone matches everything)
 *   `{a,b}`  alternatives, which may nest and contain the other wildcards
 *   `\x`     the character x literally
 * Everything else, `[` included, matches itself. A pattern matches the whole path, so `*.txt`
 * matches only top-level files and `**` + `/*.txt` matches them at any depth.
 */

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Index of the `}` closing the `{` at `open`, or -1 when it is unbalanced. */
function closingBrace(pattern: string, open: number): number {
  let depth = 0;
  for (let index = open; index < pattern.length; index++) {
    const character = pattern[index];
    if (character === '\\') index += 1;
    else if (character === '{') depth += 1;
    else if (character === '}' && --depth === 0) return index;
  }
  return -1;
}

/** The alternatives of a brace body, split at top-level commas. */
function splitAlternatives(body: string): string[] {
  const alternatives: string[] = [];
  let depth = 0;
  let start = 0;
  for (let index = 0; index < body.length; index++) {
    const character = body[index];
    if (character === '\\') index += 1;
    else if (character === '{') depth += 1;
    else if (character === '}') depth -= 1;
    else if (character === ',' && depth === 0) {
      alternatives.push(body.slice(start, index));
      start = index + 1;
    }
  }
  alternatives.push(body.slice(start));
  return alternatives;
}

function translate(pattern: string): string {
  let source = '';
  for (let index = 0; index < pattern.length; index++) {
    const character = pattern[index]!;
    const atSegmentStart = index === 0 || pattern[index - 1] === '/';
    if (character === '*' && pattern[index + 1] === '*' && atSegmentStart) {
      const afterStars = pattern[index + 2];
      if (afterStars === '/') {
        source += '(?:[^/]*/)*';
        index += 2;
        continue;
      }
      if (afterStars === undefined) {
        source += '.*';
        index += 1;
        continue;
      }
    }
    if (character === '*') source += '[^/]*';
    else if (character === '?') source += '[^/]';
    else if (character === '\\' && index + 1 < pattern.length) source += escapeRegExp(pattern[++index]!);
    else if (character === '{') {
      const close = closingBrace(pattern, index);
      if (close === -1) throw new Error(`glob "${pattern}": the "{" at position ${index} is never closed`);
      source += `(?:${splitAlternatives(pattern.slice(index + 1, close))
        .map(translate)
        .join('|')})`;
      index = close;
    } else source += escapeRegExp(character);
  }
  return source;
}

/** A RegExp that matches exactly the relative paths the glob matches. */
export function globToRegExp(pattern: string): RegExp {
  if (pattern.startsWith('/')) {
    throw new Error(`glob "${pattern}": patterns are relative to the directory; drop the leading "/"`);
  }
  return new RegExp(`^${translate(pattern)}$`);
}
