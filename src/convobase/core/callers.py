"""How the kernel admits a caller with a token: a hook a domain fills."""

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from convobase.core.principal import Principal


@dataclass(frozen=True, slots=True)
class CallerRegistry:
    """Runs once per request with a token, inside its unit of work: `admit` checks
    without writing and says whether `register` must write first (a user's first
    request, a stale `last_active`); both may refuse the caller with an error."""

    admit: Callable[[Session, Principal], bool]
    register: Callable[[Session, Principal], None]
