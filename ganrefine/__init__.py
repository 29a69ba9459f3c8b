"""ganrefine — the TP-GAN-style refiner (issue 5). Not implemented yet: this package is empty on purpose."""
