"""The hall configuration, one module per concern (see README, Configuration). This file imports
nothing: a package that imports its children would make every importer of one part depend on all."""
