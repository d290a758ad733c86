from convobase.core.errors import Conflict, NotFound, raised_for_constraint


class CardNotFound(NotFound):
    """The review card does not exist."""


# Two requests with one client_review_id at once for different cards: the second one's
# insert meets the first one's row.
@raised_for_constraint("uq_review_logs_user_id_client_review_id")
class ClientReviewIdReused(Conflict):
    """This client_review_id was already used for a different review."""

    code = "client_review_id_reused"


class CardSuspended(Conflict):
    """The review card is suspended: unsuspend it to review it."""

    code = "review_card_suspended"


class CardNotOwn(Conflict):
    """Only a card you made yourself can be edited; suspend the others instead."""

    code = "review_card_not_own"


class CardsContended(Conflict):
    """The cards were deleted again each time they were added: try again."""

    code = "review_cards_contended"
