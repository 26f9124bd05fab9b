"""Message crypto: CMS and S/MIME sign-then-encrypt, OpenPGP, certificate checks, key files.

Outbound: `protect_der` (a `.p7m` file body) and `protect_smime` (a mail body entity) sign with
the gateway's key and encrypt to each recipient certificate; `pgp_protect` does the same through
GnuPG. Inbound: `unprotect` decrypts and verifies copies from forces. `validate_certificate`
decides whether a certificate may be used; `KeyStore` and `CertificateDirectory` read key files
and notice rotation; `MessageProtector` is the outbox's protect step (form chosen by channel);
`init_demo_pki` and `init_demo_pgp_keys` make demo keys.
"""

from gateway.delivery.crypto.certs import CertificateStatus, validate_certificate
from gateway.delivery.crypto.channel import MessageProtector, PgpKeyFile
from gateway.delivery.crypto.cms import P7M_MEDIA_TYPE, P7M_SUFFIX, decrypt, protect_der, sign_der
from gateway.delivery.crypto.demo_pki import (
    DemoPki,
    IdentityFiles,
    init_demo_pgp_keys,
    init_demo_pki,
)
from gateway.delivery.crypto.errors import CryptoError, CryptoReason
from gateway.delivery.crypto.identity import (
    DecryptionIdentity,
    SignerIdentity,
    VerifiedPayload,
)
from gateway.delivery.crypto.inbound import unprotect, unprotect_with
from gateway.delivery.crypto.keystore import CertificateDirectory, KeyPairPaths, KeyStore
from gateway.delivery.crypto.pgp import PgpSecretKey, pgp_protect, pgp_unprotect
from gateway.delivery.crypto.smime import SMIME_MEDIA_TYPE, protect_smime

__all__ = [
    "P7M_MEDIA_TYPE",
    "P7M_SUFFIX",
    "SMIME_MEDIA_TYPE",
    "CertificateDirectory",
    "CertificateStatus",
    "CryptoError",
    "CryptoReason",
    "DecryptionIdentity",
    "DemoPki",
    "IdentityFiles",
    "KeyPairPaths",
    "KeyStore",
    "MessageProtector",
    "PgpKeyFile",
    "PgpSecretKey",
    "SignerIdentity",
    "VerifiedPayload",
    "decrypt",
    "init_demo_pgp_keys",
    "init_demo_pki",
    "pgp_protect",
    "pgp_unprotect",
    "protect_der",
    "protect_smime",
    "sign_der",
    "unprotect",
    "unprotect_with",
    "validate_certificate",
]
