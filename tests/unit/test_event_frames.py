"""Live event frames: built around the data's stored JSON, the same text as any other frame."""

import orjson

from gkchat.domain.models import StreamEvent
from gkchat.realtime.frames import event_frame, frame

DATA: dict[str, object] = {
    "message": {"id": "01J", "content": 'quotes " and \\ and emoji 🦊 and\nnewlines', "seq": 7}
}


def test_an_event_frame_is_the_frame_of_its_type_data_and_cursor() -> None:
    """Without stored text, the frame is exactly frame(type, data, cursor=seq)."""
    event = StreamEvent("u1", 42, "message.created", DATA)

    assert event_frame(event) == frame("message.created", DATA, cursor="42")


def test_an_event_frame_reuses_the_text_it_was_stored_as() -> None:
    """With the stored JSON, the frame carries that text and still parses to the same object."""
    stored = orjson.dumps(DATA).decode()
    event = StreamEvent("u1", 42, "message.created", DATA, encoded=stored)

    text = event_frame(event)
    assert stored in text
    assert text == frame("message.created", DATA, cursor="42")
    assert orjson.loads(text) == {"type": "message.created", "data": DATA, "cursor": "42"}


def test_the_stored_text_does_not_change_equality() -> None:
    """Two events with the same position and data are equal whether or not one holds its JSON."""
    plain = StreamEvent("u1", 1, "message.created", DATA)
    encoded = StreamEvent("u1", 1, "message.created", DATA, encoded=orjson.dumps(DATA).decode())

    assert plain == encoded
