"""Values for `.env.production` that both of upstream's loaders read back unchanged.

Upstream reads the file twice, with two different parsers:
- Rails (web, Sidekiq, tootctl): Ruby dotenv 3.2.0 (Gemfile:11, Gemfile.lock:215 at
  1440d55b). Unquoted values end at `#`, lose their backslashes and expand `$VAR`,
  `${VAR}` and `$(cmd)`; double-quoted values do the same (and keep `\\n` as the two
  characters); single-quoted values are taken literally (dotenv lib/dotenv/parser.rb,
  `LINE` and `parse_value`, v3.2.0).
- Streaming: Node dotenv 17.4.2 (streaming/package.json:21, yarn.lock:6950). Unquoted
  values end at `#`, nothing is expanded or unescaped; double quotes turn `\\n`/`\\r`
  into line breaks; single quotes and backticks are stripped (dotenv lib/main.js,
  `LINE` and `parse`, v17.4.2).

So each value is written in the first form on which both agree:
1. bare, when it is made of characters no parser treats specially;
2. single-quoted, when it has no `'` and does not end in `\\` (both parsers scan the
   whole file with `'(?:\\\\'|[^'])*'`, so a closing `\\'` would swallow the next line);
3. double-quoted, when it has no `"`, `\\` or `$`;
4. bare, when it has no `#`, `\\` or `$`, no white space at either end and no quote first.
A value fitting none (e.g. a `'` with a `$` or `\\`, or a final `\\`) or holding a line
break or NUL is refused: the preflight names the variable before any change.
"""

import re

# Written as they are: no quoting, expansion or comment character for either parser.
_PLAIN = re.compile(r"[A-Za-z0-9_.,:/@%+=|<>-]*")
# What Ruby's String#strip and JavaScript's String#trim remove from a bare value's ends.
_TRIMMED = frozenset("\x00\t\n\v\f\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff"
                     + "".join(chr(code) for code in range(0x2000, 0x200B)))
# Keys both parsers accept: Ruby `[\w.]+`, Node `[\w.-]+`; and what a shell/env can hold.
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _single_quotable(text):
    return "'" not in text and not text.endswith("\\")


def _double_quotable(text):
    return not any(char in text for char in '"\\$')


def _bare(text):
    return (not any(char in text for char in "#\\$")
            and text[:1] not in ("'", '"', "`")
            and text[:1] not in _TRIMMED and text[-1:] not in _TRIMMED)


def _text(value):
    """The string a value stands for in the file (Ruby/Node see only text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return ""
    return value


def mastodon_dotenv_refusal(value):
    """Why a value cannot be written so that both loaders read it back, or ""."""
    if not isinstance(value, str | int | float | type(None)):
        return "is a list or mapping, not text"
    text = _text(value)
    for char, name in (("\x00", "a NUL character"), ("\n", "a line break"),
                       ("\r", "a carriage return")):
        if char in text:
            return f"contains {name}, which .env.production cannot carry"
    if _single_quotable(text) or _double_quotable(text) or _bare(text):
        return ""
    if "'" not in text:
        return ("ends with a backslash, which only single quotes keep for Rails (dotenv 3.2), "
                "and there `\\'` runs into the next line; choose another value")
    return ("mixes a single quote with a \\, $, \" or #, which Rails (dotenv 3.2) and "
            "streaming (Node dotenv) cannot read the same way; choose another value")


def mastodon_dotenv(value, variable="value"):
    """The right-hand side of `KEY=...` for value; raises naming `variable`."""
    refusal = mastodon_dotenv_refusal(value)
    if refusal:
        raise ValueError(f"{variable}: the value {refusal}")
    text = _text(value)
    if _PLAIN.fullmatch(text):
        return text
    if _single_quotable(text):
        return f"'{text}'"
    if _double_quotable(text):
        return f'"{text}"'
    return text


def mastodon_dotenv_key_refusal(key):
    """Why a name cannot be a `.env.production` key, or ""."""
    if isinstance(key, str) and _KEY.fullmatch(key):
        return ""
    return "is not a variable name (letters, digits and _, not starting with a digit)"


class FilterModule:
    def filters(self):
        return {
            "mastodon_dotenv": mastodon_dotenv,
            "mastodon_dotenv_refusal": mastodon_dotenv_refusal,
            "mastodon_dotenv_key_refusal": mastodon_dotenv_key_refusal,
        }
