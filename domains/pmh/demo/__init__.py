"""``tsunagu demo pmh``: a municipality's maternal and child health over simulated months
(``scenario``), with synthetic families (``people``) and the views it prints (``views``)."""
