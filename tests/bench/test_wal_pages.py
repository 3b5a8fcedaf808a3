"""``bench.wal_pages``: the pages of each commit, attributed to the b-trees that own them."""

from pathlib import Path

from bench.wal_pages import measure


async def test_a_send_batch_writes_pages_of_the_messages_and_events_btrees(
    tmp_path: Path,
) -> None:
    """Every measured commit is found, and its pages belong to the tables a send writes."""
    found = await measure(tmp_path / "gkchat.db", pairs=4, batch=8, warm=3, measured=5)

    assert found.commits == 5
    assert found.by_btree["messages"] >= 1
    assert found.by_btree["events"] >= 1
    assert "ix_messages_recipient_id" not in found.by_btree
