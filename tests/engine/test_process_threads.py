"""Torch threads per training process: cores // processes on this machine, unless the user chose."""

from __future__ import annotations

import os

import pytest
import torch

from signssl.distributed import choose_threads, local_processes, set_process_threads
from signssl.errors import ConfigError


@pytest.mark.parametrize(
    "cores,devices,environ,want",
    [
        (2, 1, {}, None),  # one process keeps torch's default (every core)
        (2, 2, {}, 1),  # --devices 2 --strategy ddp on two cores: 1 thread each, not 2
        (2, 3, {}, 1),  # never 0
        (16, 4, {}, 4),
        (17, 4, {}, 4),  # floor: 4 x 4 <= 17
        (64, 1, {"LOCAL_WORLD_SIZE": "8"}, 8),  # torchrun --nproc-per-node 8
        (64, 8, {"LOCAL_WORLD_SIZE": "1"}, None),  # the launcher's count wins over devices
        (64, 8, {"LOCAL_WORLD_SIZE": "x"}, 8),  # unreadable: fall back to devices
        (16, 4, {"OMP_NUM_THREADS": "3"}, None),  # the user's choice is kept
        (16, 4, {"OMP_NUM_THREADS": ""}, 4),  # set but empty = not set
        # srun --ntasks-per-node 4 --cpus-per-task 6: each task's CPUs, whatever the affinity
        (6, 4, {"SLURM_NTASKS": "8", "SLURM_CPUS_PER_TASK": "6"}, 6),
        # one SLURM task, Lightning starts the 4 processes itself: they share its CPUs
        (24, 4, {"SLURM_NTASKS": "1", "SLURM_CPUS_PER_TASK": "24"}, 6),
    ],
)
def test_choose_threads(cores: int, devices: int, environ: dict[str, str], want: int | None) -> None:
    assert choose_threads(cores, devices, None, environ) == want


def test_requested_threads_win_and_must_be_positive() -> None:
    assert choose_threads(2, 2, 2, {"OMP_NUM_THREADS": "1"}) == 2  # --threads 2: the old 2 x 2
    assert choose_threads(64, 1, 5, {}) == 5
    with pytest.raises(ConfigError, match="--threads must be >= 1"):
        choose_threads(2, 2, 0, {})


def test_local_processes() -> None:
    assert local_processes(4, {}) == 4
    assert local_processes(0, {}) == 1
    assert local_processes(1, {"LOCAL_WORLD_SIZE": "6"}) == 6


def test_set_process_threads_sets_torch_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    try:
        assert set_process_threads(devices=2) is None and torch.get_num_threads() == before
        assert set_process_threads(devices=1, requested=1) == 1
        assert torch.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"
    finally:
        torch.set_num_threads(before)


def test_pretrain_takes_num_nodes(capsys: pytest.CaptureFixture[str]) -> None:
    from signssl.cli.main import main

    with pytest.raises(SystemExit) as e:
        main(["pretrain", "--method", "simclr", "--config", "tiny", "--devices", "2",
              "--num-nodes", "4", "--strategy", "ddp", "--dry-run", "--out", "unused"])
    assert e.value.code in (0, None)
    trainer = capsys.readouterr().out.split("trainer:")[1]
    assert "devices: 2" in trainer and "num_nodes: 4" in trainer and "strategy: ddp" in trainer


@pytest.mark.parametrize(
    "environ,zero",
    [
        ({}, True),
        ({"LOCAL_RANK": "1"}, False),  # Lightning's second process on a node
        ({"LOCAL_RANK": "0", "NODE_RANK": "1"}, False),  # Lightning, node 1
        ({"LOCAL_RANK": "0", "RANK": "8"}, False),  # torchrun, first process of node 1
        ({"SLURM_PROCID": "3"}, False),  # srun sets no other rank variable
        ({"LOCAL_RANK": "0", "RANK": "0", "SLURM_PROCID": "0"}, True),
    ],
)
def test_launched_as_rank_zero(environ: dict[str, str], zero: bool) -> None:
    from signssl.distributed import launched_as_rank_zero

    assert launched_as_rank_zero(environ) is zero
