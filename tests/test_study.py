"""The variant study (models/study): workers on SQLite and on a real PostgreSQL server
fill a small budget with every trial counted once, a killed worker's trial is retried,
and the report is built from a finished study."""
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna", reason="the study extra is not installed "
                                              "(pip install -e '.[study]')")
for _module in ("music21", "scipy", "sqlalchemy", "sklearn"):
    pytest.importorskip(_module, reason="the study extra is not installed "
                                        "(pip install -e '.[study]')")

ROOT = Path(__file__).resolve().parents[1]
# two variants of one task, two trials each: small, and enough for a t-test and fANOVA
SMALL = ["--preset", "smoke", "--tasks", "chorales", "--variants", "V", "NIG",
         "--trials", "3", "--heartbeat", "1", "--grace", "2"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The environment of the study's processes: the chorales cached in a temporary
    folder (parsed once for the module), not in the user's cache."""
    environment = dict(os.environ, MINIGRAD_CACHE=str(tmp_path_factory.mktemp("cache")),
                       PYTHONPATH=str(ROOT))
    return environment


def study(env, *args, check=True, timeout=180):
    command = [sys.executable, "-m", "models.study", *args]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


def study_here(env, capsys, monkeypatch, *args):
    """``python -m models.study ARGS`` in this process (no interpreter to start):
    ``(exit status, stdout, stderr)``."""
    from models.study.__main__ import main
    monkeypatch.setenv("MINIGRAD_CACHE", env["MINIGRAD_CACHE"])
    try:
        code = main(list(args))
    except Exception as exc:              # an error the command line would print
        code, message = 1, f"{type(exc).__name__}: {exc}"
    else:
        message = ""
    captured = capsys.readouterr()
    return code, captured.out, captured.err + message


def trials_of(url, name):
    return optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)


def assert_each_trial_counted_once(url, budget, names=("chorales/V", "chorales/NIG")):
    states = optuna.trial.TrialState
    for name in names:
        trials = trials_of(url, name)
        complete = [t for t in trials if t.state == states.COMPLETE]
        assert len(complete) == budget, f"{name}: {len(complete)} COMPLETE, budget {budget}"
        # anything else is a surplus trial, set to FAIL before it trained
        for t in trials:
            assert t.state == states.COMPLETE or "surplus" in t.user_attrs, (name, t)
        origins = [t.user_attrs["origin"] for t in complete]
        assert len(set(origins)) == budget, f"{name}: a trial ran twice: {origins}"
        assert all("test" in t.user_attrs and t.value is not None for t in complete)


@pytest.fixture(scope="module")
def finished_sqlite(env, tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    result = study(env, "run", "--out", str(out), "--workers", "2", *SMALL)
    return out, f"sqlite:///{out / 'study.db'}", result.stdout


def test_two_workers_on_sqlite_fill_the_budget_once(finished_sqlite):
    out, url, log = finished_sqlite
    assert_each_trial_counted_once(url, 3)
    # progress is said per worker, and each trial names the worker that ran it
    assert "[w1@" in log and "[w2@" in log
    workers = {t.user_attrs.get("worker") for t in trials_of(url, "chorales/V")
               if t.state == optuna.trial.TrialState.COMPLETE}
    assert workers <= {f"w1@{os.uname().nodename}", f"w2@{os.uname().nodename}"}


def test_a_worker_joining_a_finished_study_runs_nothing(env, finished_sqlite, capsys,
                                                        monkeypatch):
    out, url, _ = finished_sqlite
    code, stdout, _ = study_here(env, capsys, monkeypatch, "run", "--storage", url, *SMALL)
    assert code == 0 and "ran 0 trials" in stdout
    assert_each_trial_counted_once(url, 3)


def test_a_worker_with_other_options_is_refused(env, finished_sqlite, capsys, monkeypatch):
    out, url, _ = finished_sqlite
    for other, said in ((["--prune"], "prune False (asked for True)"),
                        (["--trials", "2"], "trials 3 (asked for 2)")):
        code, _, stderr = study_here(env, capsys, monkeypatch, "run", "--storage", url,
                                     *SMALL, *other)
        assert code != 0
        assert said in stderr


def test_a_larger_budget_extends_a_finished_study(env, tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    one = ["--preset", "smoke", "--tasks", "chorales", "--variants", "NP", "--storage", url]
    for budget in ("1", "2"):
        code, stdout, stderr = study_here(env, capsys, monkeypatch, "run", *one,
                                          "--trials", budget)
        assert code == 0, stderr
        assert "ran 1 trials" in stdout          # the first trial is not run again
    assert_each_trial_counted_once(url, 2, names=("chorales/NP",))


def test_the_report_is_built_from_a_finished_study(env, finished_sqlite, tmp_path, capsys,
                                                   monkeypatch):
    out, url, _ = finished_sqlite
    docs = tmp_path / "docs" / "study.md"
    docs.parent.mkdir()
    docs.write_text("# prose before `<!-- report: begin -->` quoted\n<!-- report: begin -->\n"
                    "old tables\n<!-- report: end -->\nprose after\n")
    code, _, stderr = study_here(env, capsys, monkeypatch, "report", "--out", str(out),
                                 "--tasks", "chorales", "--variants", "V", "NIG",
                                 "--docs", str(docs))
    assert code == 0, stderr
    figures = sorted(p.name for p in (out / "report" / "figures").iterdir())
    assert figures == ["chorales_box.png", "chorales_lr.png", "importance.png"]
    for name in figures:
        assert (out / "report" / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (docs.parent / "figures" / "study" / name).exists()
    text = docs.read_text()
    assert text.startswith("# prose before `<!-- report: begin -->` quoted\n")
    assert text.endswith("prose after\n")
    assert "old tables" not in text
    assert "| V | 3 |" in text and "| NIG | 3 |" in text
    assert "Welch" in text and "fANOVA" in text
    # the t-test is SciPy's Welch test on the two variants' best trials
    from scipy import stats
    test = {name: sorted((t.value, t.user_attrs["test"]) for t in trials_of(url, name)
                         if t.state == optuna.trial.TrialState.COMPLETE)
            for name in ("chorales/V", "chorales/NIG")}
    expected = stats.ttest_ind([s for _, s in test["chorales/NIG"]],
                               [s for _, s in test["chorales/V"]], equal_var=False)
    assert f"{expected.pvalue:.3g} |" in text


def test_a_killed_workers_trial_is_failed_and_retried(env, tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    one = ["--preset", "smoke", "--tasks", "chorales", "--variants", "V", "--trials", "1",
           "--heartbeat", "1", "--grace", "2", "--storage", url]
    doomed = subprocess.Popen([sys.executable, "-m", "models.study", "run", *one,
                               "--hold-trial", "120"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        running = []
        while time.time() < deadline and not running:
            time.sleep(0.2)
            try:
                running = [t for t in trials_of(url, "chorales/V")
                           if t.state == optuna.trial.TrialState.RUNNING]
            except (KeyError, Exception):     # the study is not created yet
                running = []
        assert running, "the worker never started a trial"
        time.sleep(1.5)                       # a heartbeat or two
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=30)
    finally:
        if doomed.poll() is None:
            doomed.kill()
    killed = trials_of(url, "chorales/V")[running[0].number]
    assert killed.state == optuna.trial.TrialState.RUNNING    # killed mid-trial
    assert killed.params                                      # after sampling
    code, stdout, stderr = study_here(env, capsys, monkeypatch, "run", *one)
    assert code == 0, stderr
    trials = trials_of(url, "chorales/V")
    states = optuna.trial.TrialState
    assert trials[killed.number].state == states.FAIL
    complete = [t for t in trials if t.state == states.COMPLETE]
    assert len(complete) == 1
    retry = complete[0]
    assert retry.system_attrs["failed_trial"] == killed.number
    assert retry.user_attrs["origin"] == killed.number
    assert retry.params == killed.params
    assert f"retry of trial {killed.number}" in stdout


# --------------------------------------------------------------------------- PostgreSQL

def _postgres_binary(name):
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """A PostgreSQL server of our own: initdb into a temporary folder, started on a
    private port and socket (as the ``postgres`` user when we are root, since the
    server refuses to run as root), stopped at the end."""
    pytest.importorskip("psycopg2", reason="no PostgreSQL driver (pip install -e '.[study]')")
    initdb, pg_ctl = _postgres_binary("initdb"), _postgres_binary("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL is not installed: run `make postgres` (Debian: apt-get "
                    "install postgresql)")
    as_user = []
    folder = Path(tempfile.mkdtemp(prefix="minigrad-pg-"))
    if os.geteuid() == 0:
        runuser = shutil.which("runuser") or shutil.which("su")
        try:
            import pwd
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root, and there is no postgres user to run the server")
        shutil.chown(folder, "postgres")
        folder.chmod(0o755)
        as_user = [runuser, "-u", "postgres", "--"] if runuser.endswith("runuser") \
            else None
        if as_user is None:
            pytest.skip("running as root without runuser to start the server as postgres")
    data, sockets, port = folder / "data", folder / "sockets", _free_port()
    try:
        subprocess.run([*as_user, "mkdir", str(sockets)], check=True)
        subprocess.run([*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "postgres",
                        "--no-sync"], check=True, capture_output=True, timeout=120)
        started = subprocess.run(
            [*as_user, pg_ctl, "-D", str(data), "-l", str(folder / "server.log"), "-w",
             "-o", f"-p {port} -k {sockets} -c listen_addresses='' -c fsync=off", "start"],
            capture_output=True, text=True, timeout=120)
        if started.returncode != 0:
            log = (folder / "server.log").read_text() if (folder / "server.log").exists() \
                else ""
            pytest.fail(f"PostgreSQL did not start: {started.stderr}\n{log}")
        yield f"postgresql+psycopg2://postgres@/postgres?host={sockets}&port={port}"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def test_two_workers_on_postgresql_fill_the_budget_once(env, postgres_url, tmp_path, capsys,
                                                       monkeypatch):
    result = study(env, "run", "--storage", postgres_url, "--out", str(tmp_path),
                   "--workers", "2", *SMALL)
    assert "[w1@" in result.stdout and "[w2@" in result.stdout
    assert_each_trial_counted_once(postgres_url, 3)
    # a worker started later with the same command and URL joins, and finds it done
    code, stdout, _ = study_here(env, capsys, monkeypatch, "run", "--storage", postgres_url,
                                 *SMALL)
    assert code == 0 and "ran 0 trials" in stdout
