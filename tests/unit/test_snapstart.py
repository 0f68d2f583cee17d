"""SnapStart: clients built during init go into the snapshot; what must differ per environment is made after restore."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

# Imports the handler as a SnapStart init would, then makes two restored copies of the same snapshot:
# a fork whose random state is put back to the snapshot's (a fork reseeds `random` by itself, a memory
# restore does not). Each copy runs the registered after-restore hooks (or not) and reports a draw.
_RESTORE = textwrap.dedent(
    """
    import os, random, sys
    from payments_service.dal import clients
    from payments_service.handlers import api  # init
    import snapshot_restore_py

    assert clients._clients.get("dynamodb") is not None, "the client was not built during init"
    run_hooks = sys.argv[1] == "hooks"
    snapshot = random.getstate()
    draws = []
    for _ in range(2):
        read, write = os.pipe()
        if os.fork() == 0:
            random.setstate(snapshot)
            if run_hooks:
                for hook, args, kwargs in snapshot_restore_py.get_after_restore():
                    hook(*args, **kwargs)
            os.write(write, repr(random.random()).encode())
            os._exit(0)
        os.close(write)
        draws.append(os.read(read, 64).decode())
        os.wait()
    print("same" if draws[0] == draws[1] else "different")
    """
)


def _restore_twice(hooks: bool, initialization_type: str = "snap-start") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_LAMBDA_INITIALIZATION_TYPE": initialization_type,
        "IDEMPOTENCY_TABLE_NAME": "t-IdempotencyTable",
        "PAYMENTS_TABLE_NAME": "t-PaymentsTable",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return subprocess.run(
        [sys.executable, "-c", _RESTORE, "hooks" if hooks else "none"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_restored_copies_draw_different_random_numbers_after_the_hooks() -> None:
    restored = _restore_twice(hooks=True)
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.strip() == "different"


def test_without_the_hooks_restored_copies_would_share_their_random_state() -> None:
    # The reason for the hook: a restore brings back the generator's state as the snapshot froze it.
    restored = _restore_twice(hooks=False)
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.strip() == "same"


def test_on_demand_init_builds_no_client() -> None:
    restored = _restore_twice(hooks=True, initialization_type="on-demand")
    assert restored.returncode != 0 and "the client was not built during init" in restored.stderr
