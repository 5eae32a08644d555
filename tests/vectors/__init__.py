"""Third-party test material copied into the repository (licences beside each set)."""

from pathlib import Path

HERE = Path(__file__).resolve().parent
UPSTREAM_DSP = HERE / "dsp-2025-1"  # the DSP 2025-1 specification's schemas, contexts, examples
