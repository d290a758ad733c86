import threading
import time

from convobase.db.session import FairLock


def _wait_until_queued(lock: FairLock, waiting: int) -> None:
    deadline = time.monotonic() + 10
    while lock.waiting != waiting:
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_fair_lock_is_handed_to_waiters_in_the_order_they_came() -> None:
    lock = FairLock()
    order: list[int] = []

    def take(number: int) -> None:
        with lock:
            order.append(number)

    threads = [threading.Thread(target=take, args=(number,)) for number in range(6)]
    with lock:
        for queued, thread in enumerate(threads, start=1):
            thread.start()
            _wait_until_queued(lock, queued)
    for thread in threads:
        thread.join()

    assert order == list(range(6))
    assert lock.waiting == 0


def test_fair_lock_is_free_again_after_an_exception() -> None:
    lock = FairLock()
    try:
        with lock:
            raise RuntimeError("the block failed")
    except RuntimeError:
        pass
    taken = threading.Event()

    def take() -> None:
        with lock:
            taken.set()

    thread = threading.Thread(target=take)
    thread.start()
    thread.join(timeout=10)
    assert taken.is_set()
