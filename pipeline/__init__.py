"""pipeline — facerot's Python API, command line and batch engine."""
