"""Every word a person reads from the API and the pages, in one catalogue: `zh_CN.py` (the
gateway's own error codes and labels), each kind's `words.py` (its codes and labels, collected
through the registry) and `pages.py` (the pages' own words). `catalogue.py` puts them together."""
