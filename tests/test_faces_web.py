"""The web tier's face seam: face work is waited on outside any database transaction."""

from __future__ import annotations

import pytest

from examsvc.camera import faces
from examsvc.extensions import db
from examsvc.roster.models import Cycle
from tests.factories import create_cycle


def test_waiting_on_face_work_holds_no_connection_and_refuses_unsaved_changes(app, faces_dir):
    app.config["FACE_WORKERS"] = 1
    faces.start(app)  # a real worker process
    try:
        cycle_id = create_cycle().id
        db.session.commit()
        loaded = db.session.get(Cycle, cycle_id)
        assert loaded is not None and db.session().in_transaction()
        photo = (faces_dir / "face_recognition/obama-240p.jpg").read_bytes()
        assert faces.run("count", {"image": photo})["count"] == 1
        # The read ended before the wait: its connection went back to the pool.
        assert not db.session().in_transaction()
        assert loaded.code == "HN-2026"  # and what it loaded reloads on use
        db.session.add(
            Cycle(code="X", name="x", starts_on=loaded.starts_on, ends_on=loaded.ends_on)
        )
        with pytest.raises(RuntimeError, match="commit or discard"):
            faces.run("count", {"image": photo})
        db.session.rollback()
    finally:
        faces.stop()
