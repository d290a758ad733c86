import pytest
from pydantic import ValidationError

from convobase.conversations.schemas import ConversationCreate, MessageCreate


@pytest.mark.parametrize(
    "fields",
    [
        {"role": "user", "content": "nul \x00 inside"},
        {"role": "user", "content": "ok", "metadata": {"key": "nul \x00"}},
        {"role": "user", "content": "ok", "metadata": {"nul \x00 key": 1}},
        {"role": "robot", "content": "ok"},
        {"role": "user", "content": "ok", "unknown": 1},
        {"role": "user", "content": "ok", "metadata": {"big": "x" * 17_000}},
        {"role": "user", "content": "ok", "metadata": {"a": [[[[[[[[[1]]]]]]]]]}},
        {"role": "user", "content": "ok", "client_message_id": ""},
    ],
)
def test_malformed_message_is_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        MessageCreate.model_validate(fields)


def test_metadata_eight_levels_deep_is_accepted() -> None:
    message = MessageCreate.model_validate(
        {"role": "user", "content": "ok", "metadata": {"a": [[[[[[[1]]]]]]]}}
    )

    assert message.metadata == {"a": [[[[[[[1]]]]]]]}


@pytest.mark.parametrize("title", ["", "x" * 201, "nul \x00"])
def test_bad_title_is_refused(title: str) -> None:
    with pytest.raises(ValidationError):
        ConversationCreate.model_validate({"title": title})
