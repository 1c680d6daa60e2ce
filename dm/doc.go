// Package dm encrypts private messages end to end. Every member stores the
// whole log, so a direct conversation's texts are sealed to its
// participants: each member publishes an X25519 key in the member list,
// and a message is encrypted once with a fresh key (NaCl secretbox) that is
// itself sealed to every participant with NaCl box (X25519, XSalsa20,
// Poly1305, from golang.org/x/crypto). Other members store ciphertext they
// cannot read. No cryptography is invented here; see docs/security.md for
// what is and is not hidden.
package dm
