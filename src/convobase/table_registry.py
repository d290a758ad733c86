"""Every table of every domain on one MetaData: what migrations are compared with.

Importing this module imports each domain's models, which registers their tables on
`Base.metadata`. Only code that needs the whole schema at once imports it: the
`convobase db revision --autogenerate` command and the migration tests.
"""

from convobase.analysis import models as analysis
from convobase.conversations import models as conversations
from convobase.db import rate_limits
from convobase.db.base import Base
from convobase.jobs import models as jobs
from convobase.learning import models as learning
from convobase.onboarding import models as onboarding
from convobase.personas import models as personas
from convobase.reviews import models as reviews
from convobase.safety import models as safety
from convobase.tutoring import models as tutoring
from convobase.users import models as users

metadata = Base.metadata

__all__ = [
    "analysis",
    "conversations",
    "jobs",
    "learning",
    "metadata",
    "onboarding",
    "personas",
    "rate_limits",
    "reviews",
    "safety",
    "tutoring",
    "users",
]
