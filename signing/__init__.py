"""Keys, PAdES signing and verification of qujat documents (on pyHanko + cryptography).

Modules, lowest first: ``model`` (enums, report dataclasses), ``errors``, ``ncacert``
(NCA-style identity in certificates), ``certload``, ``netfetch`` (TSA/CRL/OCSP over
HTTP), ``_compat`` (the only place touching pyHanko internals, checked at import),
``keys`` (PKCS#12, PKCS#11; ``KeyRing`` holds a process's keys), ``sign``, ``verify``,
``cli``. Development and test tools: ``pki`` (dev PKI built and served by certomancer,
which comes with the ``devpki`` extra and is imported only when used) and ``softhsm``
(SoftHSM2 test tokens). Nothing here knows about documents, HTTP APIs or storage;
importing the package itself loads nothing heavy, and no module keeps keys or sessions.
"""
