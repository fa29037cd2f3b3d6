"""Log configs: standard dictConfig files, Synapse-style files, bad files."""

import os
import subprocess
import sys
import textwrap

import pytest

from synapse.api.errors import ConfigError
from synapse.config.logger import setup_logging

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SYNAPSE_STYLE = """\
version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s'
filters:
  context:
    (): synapse.logging.context.LoggingContextFilter
    request: ""
handlers:
  file:
    class: logging.FileHandler
    formatter: precise
    filename: {log}
    filters: [context]
  buffer:
    class: synapse.logging.handlers.PeriodicallyFlushingMemoryHandler
    target: file
    capacity: 10
    flushLevel: 20
    period: 5
root:
  level: INFO
  handlers: [buffer]
disable_existing_loggers: false
"""


def test_synapse_style_log_config_works(tmp_path):
    log = tmp_path / "out.log"
    config = tmp_path / "log.yaml"
    config.write_text(SYNAPSE_STYLE.format(log=log))
    script = textwrap.dedent(
        f"""
        import logging
        from synapse.config.logger import setup_logging
        setup_logging({str(config)!r})
        logging.getLogger("synapse.test").info("hello from the test")
        logging.shutdown()
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, env={**os.environ, "PYTHONPATH": REPO}, timeout=30)
    line = log.read_text().strip()
    assert " - synapse.test - " in line and line.endswith(" - INFO - - - hello from the test")


@pytest.mark.parametrize(
    "content, problem",
    [
        ("- just a list\n", "dictConfig mapping"),
        ("version: 1\nhandlers: {h: {class: no.such.Handler}}\n", "setup failed"),
    ],
)
def test_bad_log_config_is_a_one_line_config_error(tmp_path, content, problem):
    path = tmp_path / "log.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError) as exc:
        setup_logging(str(path))
    message = str(exc.value)
    assert message.startswith(f"{path}: log_config: ") and problem in message and "\n" not in message
