"""The prerequisite graph under concurrent changes (both databases, real commits):
two changes that would close a cycle together cannot both pass."""

import threading

from convobase.db.session import Database
from convobase.learning import service
from convobase.learning.errors import PrerequisiteCycle
from convobase.learning.schemas import CourseCreate, CourseDetail, CourseUpdate
from tests.learning.catalog import course_body
from tests.learning.factories import STAFF


def test_two_courses_made_to_require_each_other_at_once_make_no_cycle(
    database: Database,
) -> None:
    with database.transaction(STAFF) as session:
        first, second = (
            service.create_course(session, STAFF, data=CourseCreate.model_validate(course_body()))
            for _ in range(2)
        )
    outcomes: list[str] = []
    together = threading.Barrier(2)

    def require(course: CourseDetail, other: CourseDetail) -> None:
        together.wait()
        try:
            with database.transaction(STAFF) as session:
                data = CourseUpdate.model_validate({"prerequisites": [str(other.id)]})
                service.update_course(session, STAFF, course.id, data=data)
            outcomes.append("changed")
        except PrerequisiteCycle:
            outcomes.append("refused")

    threads = [
        threading.Thread(target=require, args=pair) for pair in ((first, second), (second, first))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["changed", "refused"]
