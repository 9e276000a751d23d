"""Front-end-neutral commands: parsing, routing, built-in subcommands and the responder seam."""
