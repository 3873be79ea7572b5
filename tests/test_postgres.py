"""The store on a real PostgreSQL server: migrations, appends, queries, verify, tamper."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from pathlib import Path

import pytest
from sqlalchemy import text, update

from collector.config import load
from collector.runner import Collector, Selection
from storage.index import migrate, records
from storage.queries import as_of, parse_time
from storage.store import EvidenceStore
from storage.verify import verify

pytestmark = pytest.mark.postgres


def test_postgres_store_end_to_end(config_file: Callable[..., Path], pg_url: str) -> None:
    """Collect, query as of now, verify, then catch an edited row, all on PostgreSQL."""
    cfg = load(config_file(index_url=pg_url))
    st = EvidenceStore.open(cfg)
    migrate(st.engine)  # a second migration is a no-op
    s = Collector(cfg, st).run(Selection())
    assert s.ok
    res = as_of(st.engine, ["CC6.1"], parse_time("now"))
    assert [r["snapshot"] for r in res["records"]] == ["items"]
    rows = list(st.iter_records())
    assert rows[0]["collected_finished_at"].tzinfo == UTC
    assert verify(st).ok
    with st.engine.begin() as c:
        c.execute(update(records).where(records.c.seq == 1).values(status="complete",
                                                                     record_count=7))
    rep = verify(st)
    assert [p.kind for p in rep.problems] == ["record"]
    from alembic.script import ScriptDirectory

    import storage.index

    scripts = Path(storage.index.__file__).parent / "migrations"
    head = ScriptDirectory(str(scripts)).get_current_head()
    with st.engine.connect() as c:
        assert c.execute(text("select version_num from alembic_version")).scalar() == head
    st.close()

