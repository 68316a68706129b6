"""Values the controller generates for ``spec.generate``: random, from the chosen alphabet."""

from __future__ import annotations

import secrets
import string

from controller.model import Alphabet, GenerateSpec

_ALPHABETS = {
    Alphabet.ALPHANUMERIC: string.ascii_letters + string.digits,
    Alphabet.URLSAFE: string.ascii_letters + string.digits + "-_",
    Alphabet.HEX: "0123456789abcdef",
    Alphabet.ASCII_PRINTABLE: "".join(chr(c) for c in range(0x21, 0x7F)),
}


def generate_value(spec: GenerateSpec) -> bytes:
    alphabet = _ALPHABETS[spec.alphabet]
    return "".join(secrets.choice(alphabet) for _ in range(spec.length)).encode()
