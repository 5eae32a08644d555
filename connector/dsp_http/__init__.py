"""DSP 2025-1 over HTTPS: the second binding beside the NATS bus (docs/dsp-https.md)."""
