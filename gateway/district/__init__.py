"""The district's side (issue 25): `hallgate district -c district.yaml`, reading what every site
forwards to the district store and bridges to the district broker. It reads; it never writes to a
site."""
