"""Undo the ways people (and filter evaders) spell crisis words, before any matching.

`normalize` gives readable text: lower case, NFKC, look-alike letters made Latin, emoji
that mean something made words, spaced-out letters and leetspeak joined back into words,
stretched letters shortened. Accents are kept.

`match_key` is what the lexicon is matched against: the same text in ASCII, without
accents or apostrophes, keeping only the punctuation that ends a clause or quotes.
Repeated letters are left as written: lexicon phrases are squeezed when compiled
(`fold_phrase_literal`: "kill" is "kil") and each of their letters then matches any run
of itself, so "kil", "kill" and "killlll" all match. `squeeze` does the same to a word.

Every step is a handful of C-level string operations, and the expensive ones only run
when a cheap test says they could change something: a message of ordinary chat costs a
few microseconds, 32 KiB well under a millisecond. A regular expression scanning a long
text is itself the cost to avoid: one scan for every rare character at once rather than
one per kind, and non-ASCII runs handled where they are rather than the text rebuilt.
"""

import codecs
import re
import unicodedata
from operator import itemgetter

# Cyrillic and Greek letters that render like Latin ones (after lower-casing), used to
# write "kill" with a Cyrillic k past a naive filter. Greek and Cyrillic are not languages
# the lexicon covers, so mapping them loses nothing the detector could read. Typographic
# quotes become ASCII ones here too.
HOMOGLYPHS = str.maketrans(
    {
        "\u0430": "a",  # cyrillic small letter a
        "\u0432": "b",  # cyrillic small letter ve
        "\u044c": "b",  # cyrillic small letter soft sign
        "\u0441": "c",  # cyrillic small letter es
        "\u0501": "d",  # cyrillic small letter komi de
        "\u0435": "e",  # cyrillic small letter ie
        "\u0451": "e",  # cyrillic small letter io
        "\u044d": "e",  # cyrillic small letter e
        "\u0261": "g",  # latin small letter script g
        "\u04bb": "h",  # cyrillic small letter shha
        "\u043d": "h",  # cyrillic small letter en
        "\u0456": "i",  # cyrillic small letter byelorussian-ukrainian i
        "\u0457": "i",  # cyrillic small letter yi
        "\u0458": "j",  # cyrillic small letter je
        "\u043a": "k",  # cyrillic small letter ka
        "\u04cf": "l",  # cyrillic small letter palochka
        "\u043c": "m",  # cyrillic small letter em
        "\u043f": "n",  # cyrillic small letter pe
        "\u043e": "o",  # cyrillic small letter o
        "\u0440": "p",  # cyrillic small letter er
        "\u051b": "q",  # cyrillic small letter qa
        "\u0433": "r",  # cyrillic small letter ghe
        "\u0455": "s",  # cyrillic small letter dze
        "\u0442": "t",  # cyrillic small letter te
        "\u0438": "u",  # cyrillic small letter i
        "\u0475": "v",  # cyrillic small letter izhitsa
        "\u051d": "w",  # cyrillic small letter we
        "\u0445": "x",  # cyrillic small letter ha
        "\u0443": "y",  # cyrillic small letter u
        "\u03b1": "a",  # greek small letter alpha
        "\u03b2": "b",  # greek small letter beta
        "\u03b5": "e",  # greek small letter epsilon
        "\u03b7": "n",  # greek small letter eta
        "\u03b9": "i",  # greek small letter iota
        "\u03ba": "k",  # greek small letter kappa
        "\u03bc": "u",  # greek small letter mu
        "\u03bd": "v",  # greek small letter nu
        "\u03bf": "o",  # greek small letter omicron
        "\u03c1": "p",  # greek small letter rho
        "\u03c3": "o",  # greek small letter sigma
        "\u03c2": "s",  # greek small letter final sigma
        "\u03c4": "t",  # greek small letter tau
        "\u03c5": "u",  # greek small letter upsilon
        "\u03c7": "x",  # greek small letter chi
        "\u03b3": "y",  # greek small letter gamma
        "\u03c9": "w",  # greek small letter omega
        "\u0131": "i",  # latin small letter dotless i
        "\u0142": "l",  # latin small letter l with stroke
        "\u00f8": "o",  # latin small letter o with stroke
        "\u0111": "d",  # latin small letter d with stroke
        "\u0127": "h",  # latin small letter h with stroke
        "\u2019": "'",  # right single quotation mark
        "\u2018": "'",  # left single quotation mark
        "\u02bc": "'",  # modifier letter apostrophe
        "\u00b4": "'",  # acute accent
        "\u201c": '"',  # left double quotation mark
        "\u201d": '"',  # right double quotation mark
        "\u201e": '"',  # double low-9 quotation mark
        "\u00ab": '"',  # left-pointing double angle quotation mark
        "\u00bb": '"',  # right-pointing double angle quotation mark
        "\u2039": '"',  # single left-pointing angle quotation mark
        "\u203a": '"',  # single right-pointing angle quotation mark
    }
)
NEEDS_HOMOGLYPHS = re.compile("[" + "".join(chr(code) for code in HOMOGLYPHS) + "]")
HOMOGLYPH_OF = {chr(code): str(letter) for code, letter in HOMOGLYPHS.items()}

# Emoji that carry a meaning in a crisis message become words. Skulls alone mostly mean
# "I'm dead (laughing)", so 💀 and ☠ are dropped rather than read as death; ⚰ becomes
# "coffin", which no rule reads alone (only next to a means: see the lexicon).
EMOJI_WORDS = {
    "\U0001f48a": " pills ",  # 💊
    "\U0001f52a": " knife ",  # 🔪
    "\U0001faa2": " rope ",  # 🪢
    "\u26b0": " coffin ",  # ⚰
    "\U0001f52b": " gun ",  # 🔫
    "\U0001fa78": " blood ",  # 🩸
    "\U0001faa6": " grave ",  # 🪦
    "\U0001fa92": " razor ",  # 🪒
    "\U0001f480": " ",  # 💀
    "\u2620": " ",  # ☠
}
# Variation selectors, joiners, soft hyphens and other invisible characters: they split a
# word for a filter but not for a reader.
INVISIBLE = re.compile("[\u00ad\u034f\u061c\u180e\u200b-\u200f\u2060-\u2064\ufeff\ufe0e\ufe0f]")
COMBINING = re.compile(
    "[\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]"
)
# Written "x x*" rather than "x+": a pattern that starts with a character class lets the
# search skip from one candidate character to the next, which on a long, mostly ASCII
# text is several times faster.
NON_ASCII = re.compile(r"[^\x00-\x7f][^\x00-\x7f]*")
# Every character one of _fold's rewrites touches after case folding, in one class (the
# emoji beyond the Basic Multilingual Plane are looked for with str.find instead: in a
# class they would make every character's test slow). Invisible characters are the same
# after case folding, and no character folds to one, so they are looked for here too.
RARE = re.compile(
    "["
    + INVISIBLE.pattern[1:-1]
    + COMBINING.pattern[1:-1]
    + NEEDS_HOMOGLYPHS.pattern[1:-1]
    + "".join(emoji for emoji in EMOJI_WORDS if ord(emoji) <= 0xFFFF)
    + "]"
)
ASTRAL_EMOJI = tuple(emoji for emoji in EMOJI_WORDS if ord(emoji) > 0xFFFF)
# Latin-1 lower-cased, byte for byte (all but "ß" and "µ" also case-folded so).
LATIN_1_LOWER = bytes(ord(chr(code).lower()) for code in range(256))
LATIN_1_RARE = tuple(chr(code) for code in range(0x80, 0x100) if RARE.match(chr(code)))
# The match key of a non-ASCII run, remembered: accented letters are few and recur.
KEY_OF_RUN: dict[str, str] = {}
KEY_OF_RUN_SIZE = 4096
# The error handler (registered below) with which the ASCII codec writes the key of each
# non-ASCII run in its place: the same as doing it over the whole text (an ASCII
# character never joins a run when decomposed, nor two runs merge), and a long text
# with a few accented words costs no pass over all of it in Python.
KEY_OF_RUNS = "convobase.safety.key_of_runs"

LEET = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "@": "a",
        "$": "s",
        "!": "i",
        "|": "l",
    }
)
LEET_CHARS = frozenset("0134579@$!|")
# A leet character inside a word ("k1ll", "$uicide", "k!ll"): the cheap test that spares
# most messages any rewriting. A "!" only counts before a letter: after one it ends a
# sentence.
LEET_HINT = re.compile(r"[0-9@$|!](?:(?<=[^\W\d_][0-9@$|])|(?=[^\W\d_]))")
TOKEN_CHARS = re.compile(r"[\w@$!|]+")
# "10k", "4pm", "200mg", "2nd", "14yo": a number with a unit stays a number.
NUMBER_WITH_UNIT = re.compile(
    r"\d+(?:[.,]\d+)?(?:st|nd|rd|th|am|pm|h|hr|hrs|k|km|kms|m|mi|min|mins|mg|g|kg|lb|lbs|"
    r"ml|l|x|s|yo|y|d|gb|mb|kb|ms|px|p|v|hz|mph|kmh|cm|mm|ft|in)?"
)
ONES = re.compile(r"1{2,}")

# "k i l l", "s.u.i.c.i.d.e", "k-1-l-l": three or more single characters, each followed
# by one separator. Commas are not separators: "a, b, c" is a list.
# The cheap test for them: a separator becomes "s", a letter, digit or leet character
# "w" ("?" too: it stands for any non-ASCII letter), anything else "o"; three single
# characters between separators then read "swswsws".
SPACED_SHAPES = bytes(
    ord("s")
    if bytes([code]) in b" .-_*~+"
    else ord("w")
    if chr(code).isalnum() or bytes([code]) in b"@$!|?"
    else ord("o")
    for code in range(256)
)
# For the cheap test of LEET_HINT: a letter (or "?") is "a", a leet character "d".
LEET_SHAPES = bytes(
    ord("a")
    if chr(code).isalpha() or code == ord("?")
    else ord("d")
    if bytes([code]) in b"0123456789@$|"
    else code
    if code == ord("!")
    else ord(" ")
    for code in range(256)
)
SPACED = re.compile(r"(?<![\w@$!|])[\w@$!|](?:[ .\-_*~+][\w@$!|](?![\w@$!|])){2,}")
SPACED_SEPARATOR = re.compile(r"[ .\-_*~+]")
# How far from a hint a spelled-out word can reach (it is followed to its end anyway).
SPACED_REACH = 120

STRETCHED = re.compile(r"([^\W\d_])\1{2,}")
DOUBLED = re.compile(r"([a-z])\1+")
FIRST_GROUP = itemgetter(1)
WHITESPACE = re.compile(r"[^\S\n]+")

# The match key keeps letters, digits, spaces, and the punctuation that ends a clause or
# quotes a mention; a line break ends a sentence; apostrophes inside words vanish
# ("don't" is "dont"), other apostrophes are quotes ('morir' is "morir").
KEY_KEEP = b"abcdefghijklmnopqrstuvwxyz0123456789 .,;:!?\"'"
KEY_TABLE = bytes(
    (
        code + 32
        if 65 <= code <= 90
        else code
        if bytes([code]) in KEY_KEEP
        else ord(".")
        if code == 10
        else ord(" ")
    )
    for code in range(256)
)
# Written to start with the apostrophe itself, so the search skips straight to them.
EDGE_APOSTROPHE = re.compile(r"'(?:(?![a-z0-9])|(?<![a-z0-9]'))")
# The words of a key, for looking them up: punctuation and quotes become spaces.
WORDS_TABLE = bytes(code if bytes([code]) not in b'.,;:!?"' else ord(" ") for code in range(256))


def _fold(text: str) -> str:
    if text.isascii():
        return text.lower()
    folded = unicodedata.normalize("NFKC", text)
    # Most non-ASCII text is accented letters, which none of the rewrites below touch.
    # Text of nothing beyond Latin-1 can hold only five of the rare characters, and
    # folds its case as it lowers it but for two letters.
    try:
        latin = folded.encode("latin-1")
    except UnicodeEncodeError:
        folded = folded.casefold()
        rare = RARE.search(folded) is not None
    else:
        if "ß" in folded or "µ" in folded:
            folded = folded.casefold()
        else:
            # A byte table lowers Latin-1 several times faster than str.lower.
            folded = latin.translate(LATIN_1_LOWER).decode("latin-1")
        rare = any(character in folded for character in LATIN_1_RARE)
    astral = [emoji for emoji in ASTRAL_EMOJI if emoji in folded]
    if not rare and not astral:
        return folded
    # Every rewrite replaces single characters by ASCII or nothing, so one pass does all.
    if rare:
        folded = RARE.sub(_rewrite_rare, folded)
    for emoji in astral:
        folded = folded.replace(emoji, EMOJI_WORDS[emoji])
    return folded


def _rewrite_rare(found: re.Match[str]) -> str:
    # Invisible characters and combining marks go (those left after NFKC are not the
    # accents of a letter, which were composed, but "zalgo" marks stacked over a word);
    # look-alikes become Latin letters, emoji words.
    character = found.group()
    return HOMOGLYPH_OF.get(character) or EMOJI_WORDS.get(character, "")


def _fold_leet_token(token: str) -> str:
    if token.isdigit() or not any(ch in LEET_CHARS for ch in token):
        return token
    if not any(ch.isalpha() for ch in token) or NUMBER_WITH_UNIT.fullmatch(token):
        return token
    # Two or more ones are a doubled "l" ("ki11"); a single one is an "i" ("su1c1de").
    return ONES.sub(lambda ones: "l" * len(ones.group()), token).translate(LEET)


def _unleet(text: str) -> str:
    # Rewrite only the tokens around each hint: a message is mostly plain words.
    pieces: list[str] = []
    done = 0
    for hint in LEET_HINT.finditer(text):
        if hint.start() < done:
            continue
        start = hint.start()
        while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "@$!|_"):
            start -= 1
        token = TOKEN_CHARS.match(text, start)
        if token is None:
            continue
        # A trailing "!" or "$" is punctuation or a price, not a letter.
        end = token.end()
        while end > start and text[end - 1] in "!$":
            end -= 1
        pieces.append(text[done:start])
        pieces.append(_fold_leet_token(text[start:end]))
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def _unspace(text: str, shapes: bytes) -> str:
    # Look only around each "swswsws" (shapes[i] is text[i - 1]): spelled-out words are
    # rare, and a regular expression over all of a long text is not.
    replacements: list[tuple[int, int, str]] = []
    searched = 0
    hint = shapes.find(b"swswsws")
    while hint >= 0:
        low = max(searched, hint - SPACED_REACH)
        high = min(len(text), hint + SPACED_REACH)
        while low > searched and not text[low - 1].isspace():
            low -= 1
        # Never cut a word, nor a run of single characters, in two.
        while high < len(text) and (
            not text[high].isspace()
            or (high + 2 < len(text) and shapes[high + 2 : high + 5] == b"wsw")
        ):
            high += 1
        for spaced in SPACED.finditer(text, low, high):
            letters = SPACED_SEPARATOR.sub("", spaced.group())
            # "1 2 3" is counting, not a word spelled out.
            if sum(ch.isalpha() for ch in letters) >= 2:
                replacements.append((spaced.start(), spaced.end(), letters))
        searched = high
        hint = shapes.find(b"swswsws", high + 1)
    pieces: list[str] = []
    done = 0
    for start, end, letters in replacements:
        pieces.append(text[done:start])
        pieces.append(letters)
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def _untrick(folded: str) -> str:
    # One byte per character ("?" for any non-ASCII one), so offsets stay those of the text.
    encoded = (" " + folded + " ").encode("ascii", "replace")
    shapes = encoded.translate(SPACED_SHAPES)
    if b"swswsws" in shapes:
        folded = _unspace(folded, shapes)
        hinted = True
    else:
        # LEET_HINT's cheap test: a leet character after a letter, or one (or a "!")
        # before a letter ("?" may be one: it stands for any non-ASCII character). Most
        # text has few digits and "!", so those are looked for first.
        leet = encoded.translate(LEET_SHAPES)
        hinted = (b"d" in leet and (b"ad" in leet or b"da" in leet)) or (
            b"!" in leet and b"!a" in leet
        )
    if hinted and LEET_HINT.search(folded):
        folded = _unleet(folded)
    return folded


def normalize(text: str) -> str:
    """Return the text lower-cased, with look-alikes, leetspeak and spacing tricks undone."""
    folded = STRETCHED.sub(r"\1", _untrick(_fold(text)))
    return WHITESPACE.sub(" ", folded).strip()


def strip_accents(text: str) -> str:
    """Return the text without accents: "está" and "esta" match the same phrases."""
    if text.isascii():
        return text
    return COMBINING.sub("", unicodedata.normalize("NFD", text))


def squeeze(text: str) -> str:
    """Return ASCII text with every run of a repeated letter squeezed to one letter."""
    # itemgetter(1) is the replacement "\1" without a Python-level template per match.
    return DOUBLED.sub(FIRST_GROUP, text)


def fold_phrase_literal(text: str) -> str:
    """Fold a literal of a lexicon phrase the way `match_key` folds a message."""
    return squeeze(strip_accents(text.lower()))


def _key_of_run(run: str) -> str:
    key = KEY_OF_RUN.get(run)
    if key is None:
        key = NON_ASCII.sub(" ", strip_accents(run))
        if len(KEY_OF_RUN) >= KEY_OF_RUN_SIZE:
            KEY_OF_RUN.clear()
        KEY_OF_RUN[run] = key
    return key


def _key_of_unencodable(error: UnicodeError) -> tuple[str, int]:
    # The ASCII codec hands over each run of non-ASCII characters whole.
    assert isinstance(error, UnicodeEncodeError)
    return _key_of_run(error.object[error.start : error.end]), error.end


codecs.register_error(KEY_OF_RUNS, _key_of_unencodable)


def key_of_folded(folded: str) -> str:
    """Return the match key of text already folded and untricked (see `match_key`)."""
    # Accents off, then what is still not ASCII becomes a space: run by run (see
    # KEY_OF_RUNS), as the ASCII codec meets them.
    encoded = folded.encode("ascii", KEY_OF_RUNS)
    text = encoded.translate(KEY_TABLE).decode("ascii")
    if "'" in text:
        text = EDGE_APOSTROPHE.sub('"', text).replace("'", "")
    return text


def spaced_key(key: str) -> str:
    """Return a match key with its punctuation and quotes made spaces, character for
    character: its `split()` gives the key's words, and so does a slice's."""
    return key.encode("ascii").translate(WORDS_TABLE).decode("ascii")


def key_words(key: str) -> list[str]:
    """Return the words of a match key, without punctuation."""
    return spaced_key(key).split()


def match_key(text: str) -> str:
    """Return the text as the lexicon sees it: normalised, unaccented, in ASCII."""
    return key_of_folded(_untrick(_fold(text)))
