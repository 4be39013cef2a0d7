"""Benchmarks of the background templates: fidelity, detection and cost of each template
method, SIGMA on toy data, Fig. 3 of the SIGMA paper, transport and the cVAE's latents."""
