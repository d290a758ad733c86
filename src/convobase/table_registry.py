"""The whole schema: importing this registers every table on `Base.metadata`."""

from convobase.conversations import models as conversations
from convobase.db.base import Base
from convobase.personas import models as personas
from convobase.users import models as users

metadata = Base.metadata

__all__ = ["conversations", "metadata", "personas", "users"]
