"""Keys, PAdES signing and verification of qujat documents (on pyHanko + cryptography).

Modules, lowest first: ``model`` (enums, report dataclasses), ``errors``, ``ncacert``
(NCA-style identity in certificates), ``certload``, ``netfetch`` (TSA/CRL/OCSP over
HTTP), ``keys`` (PKCS#12, PKCS#11), ``sign``, ``verify``, ``pki`` (dev PKI built and
served by certomancer), ``softhsm`` (test tokens), ``cli``. Nothing here knows about
documents, HTTP APIs or storage; importing the package itself loads nothing heavy.
"""
