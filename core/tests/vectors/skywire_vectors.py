#!/usr/bin/env python3
"""Test vectors for skychat's Skywire suite, computed independently of the Rust code.

Prints JSON on stdout; core/tests/skywire_vectors.rs reads the committed copy:

    python3 core/tests/vectors/skywire_vectors.py > core/tests/vectors/skywire_vectors.json

Needs Python >= 3.8 and `cryptography` >= 45 (ChaCha20-Poly1305, and ML-KEM-768 to check the
ML-KEM below). secp256k1, the Noise XK handshake and ML-KEM-768 (FIPS 203, deterministic from
given seeds, which `cryptography` cannot do) are written out here; the ML-KEM is checked against
`cryptography`'s: the same encapsulation key from the seed, the same shared secret on
decapsulation. The wire is the Go skychat's TCP-direct format (docs/protocol.md, "The Skywire
suite").
"""
import hashlib
import hmac
import json
import struct
import sys

from cryptography.hazmat.primitives.asymmetric import mlkem as openssl_mlkem
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

# ------------------------------------------------------------------ secp256k1 (affine, plain ints)
FIELD = 2**256 - 2**32 - 977
ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
GEN = (
    0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
    0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8,
)


def point_add(p, q):
    if p is None:
        return q
    if q is None:
        return p
    (x1, y1), (x2, y2) = p, q
    if x1 == x2:
        if (y1 + y2) % FIELD == 0:
            return None
        slope = 3 * x1 * x1 * pow(2 * y1, FIELD - 2, FIELD)
    else:
        slope = (y2 - y1) * pow(x2 - x1, FIELD - 2, FIELD)
    slope %= FIELD
    x3 = (slope * slope - x1 - x2) % FIELD
    return (x3, (slope * (x1 - x3) - y1) % FIELD)


def scalar_mult(k, p):
    result = None
    for bit in bin(k)[2:]:
        result = point_add(result, result)
        if bit == "1":
            result = point_add(result, p)
    return result


def encode_point(p):
    return bytes([0x02 | (p[1] & 1)]) + p[0].to_bytes(32, "big")


def decode_point(data):
    assert len(data) == 33 and data[0] in (2, 3)
    x = int.from_bytes(data[1:], "big")
    y = pow((x ** 3 + 7) % FIELD, (FIELD + 1) // 4, FIELD)
    assert (y * y - x ** 3 - 7) % FIELD == 0
    if (y & 1) != (data[0] & 1):
        y = FIELD - y
    return (x, y)


def public_key(secret):
    d = int.from_bytes(secret, "big")
    assert 0 < d < ORDER
    return encode_point(scalar_mult(d, GEN))


def skywire_dh(secret, public):
    shared = scalar_mult(int.from_bytes(secret, "big"), decode_point(public))
    return hashlib.sha256(encode_point(shared)).digest() + bytes(1)


# ------------------------------------------------------------------ ML-KEM-768 (FIPS 203)
Q, N, K, ETA1, ETA2, DU, DV = 3329, 256, 3, 2, 2, 10, 4


def bitrev7(i):
    return int("{:07b}".format(i)[::-1], 2)


ZETAS = [pow(17, bitrev7(i), Q) for i in range(128)]
GAMMAS = [pow(17, 2 * bitrev7(i) + 1, Q) for i in range(128)]


def ntt(f):
    f = list(f)
    i, length = 1, 128
    while length >= 2:
        for start in range(0, N, 2 * length):
            zeta = ZETAS[i]
            i += 1
            for j in range(start, start + length):
                t = zeta * f[j + length] % Q
                f[j + length] = (f[j] - t) % Q
                f[j] = (f[j] + t) % Q
        length //= 2
    return f


def ntt_inverse(f):
    f = list(f)
    i, length = 127, 2
    while length <= 128:
        for start in range(0, N, 2 * length):
            zeta = ZETAS[i]
            i -= 1
            for j in range(start, start + length):
                t = f[j]
                f[j] = (t + f[j + length]) % Q
                f[j + length] = zeta * (f[j + length] - t) % Q
        length *= 2
    return [x * 3303 % Q for x in f]


def multiply_ntts(f, g):
    h = [0] * N
    for i in range(128):
        a0, a1, b0, b1 = f[2 * i], f[2 * i + 1], g[2 * i], g[2 * i + 1]
        h[2 * i] = (a0 * b0 + a1 * b1 * GAMMAS[i]) % Q
        h[2 * i + 1] = (a0 * b1 + a1 * b0) % Q
    return h


def poly_add(f, g):
    return [(a + b) % Q for a, b in zip(f, g)]


def byte_encode(f, d):
    bits = 0
    for i, a in enumerate(f):
        bits |= (a % (1 << d)) << (i * d)
    return bits.to_bytes(32 * d, "little")


def byte_decode(data, d):
    bits = int.from_bytes(data, "little")
    modulus = Q if d == 12 else 1 << d
    return [((bits >> (i * d)) & ((1 << d) - 1)) % modulus for i in range(N)]


def compress(f, d):
    return [(((x << d) + Q // 2) // Q) % (1 << d) for x in f]


def decompress(f, d):
    return [(y * Q + (1 << (d - 1))) >> d for y in f]


def sample_ntt(seed):
    length = 840
    while True:
        stream = hashlib.shake_128(seed).digest(length)
        out, pos = [], 0
        while len(out) < N and pos + 3 <= len(stream):
            c0, c1, c2 = stream[pos], stream[pos + 1], stream[pos + 2]
            pos += 3
            d1 = c0 + 256 * (c1 % 16)
            d2 = c1 // 16 + 16 * c2
            if d1 < Q:
                out.append(d1)
            if d2 < Q and len(out) < N:
                out.append(d2)
        if len(out) == N:
            return out
        length *= 2


def sample_cbd(data, eta):
    bits = int.from_bytes(data, "little")
    f = []
    for i in range(N):
        x = sum((bits >> (2 * i * eta + j)) & 1 for j in range(eta))
        y = sum((bits >> (2 * i * eta + eta + j)) & 1 for j in range(eta))
        f.append((x - y) % Q)
    return f


def prf(eta, seed, counter):
    return hashlib.shake_256(seed + bytes([counter])).digest(64 * eta)


def matrix(rho):
    return [[sample_ntt(rho + bytes([j, i])) for j in range(K)] for i in range(K)]


def kpke_keygen(d):
    g = hashlib.sha3_512(d + bytes([K])).digest()
    rho, sigma = g[:32], g[32:]
    a_hat = matrix(rho)
    s = [sample_cbd(prf(ETA1, sigma, i), ETA1) for i in range(K)]
    e = [sample_cbd(prf(ETA1, sigma, K + i), ETA1) for i in range(K)]
    s_hat = [ntt(p) for p in s]
    e_hat = [ntt(p) for p in e]
    t_hat = []
    for i in range(K):
        acc = e_hat[i]
        for j in range(K):
            acc = poly_add(acc, multiply_ntts(a_hat[i][j], s_hat[j]))
        t_hat.append(acc)
    ek = b"".join(byte_encode(p, 12) for p in t_hat) + rho
    return ek


def kpke_encrypt(ek, message, r):
    t_hat = [byte_decode(ek[384 * i:384 * (i + 1)], 12) for i in range(K)]
    a_hat = matrix(ek[384 * K:])
    counter = 0
    y = []
    for _ in range(K):
        y.append(sample_cbd(prf(ETA1, r, counter), ETA1))
        counter += 1
    e1 = []
    for _ in range(K):
        e1.append(sample_cbd(prf(ETA2, r, counter), ETA2))
        counter += 1
    e2 = sample_cbd(prf(ETA2, r, counter), ETA2)
    y_hat = [ntt(p) for p in y]
    u = []
    for i in range(K):
        acc = [0] * N
        for j in range(K):
            acc = poly_add(acc, multiply_ntts(a_hat[j][i], y_hat[j]))
        u.append(poly_add(ntt_inverse(acc), e1[i]))
    mu = decompress(byte_decode(message, 1), 1)
    acc = [0] * N
    for i in range(K):
        acc = poly_add(acc, multiply_ntts(t_hat[i], y_hat[i]))
    v = poly_add(poly_add(ntt_inverse(acc), e2), mu)
    c1 = b"".join(byte_encode(compress(p, DU), DU) for p in u)
    return c1 + byte_encode(compress(v, DV), DV)


def mlkem_keygen(d, z):
    ek = kpke_keygen(d)
    # The decapsulation key (dk_pke ‖ ek ‖ H(ek) ‖ z) is not needed: `cryptography` decapsulates.
    openssl_key = openssl_mlkem.MLKEM768PrivateKey.from_seed_bytes(d + z)
    assert openssl_key.public_key().public_bytes_raw() == ek, "ML-KEM keygen disagrees with OpenSSL"
    return ek, openssl_key


def mlkem_encaps(ek, m):
    g = hashlib.sha3_512(m + hashlib.sha3_256(ek).digest()).digest()
    shared, r = g[:32], g[32:]
    return kpke_encrypt(ek, m, r), shared


# ------------------------------------------------------------------ Noise XK, Go split direction
PROTOCOL_NAME = b"Noise_XK_Secp256k1_ChaChaPoly_SHA256"
PQ_INFO = b"skywire-pq-hybrid-v1"


def hmac256(key, data):
    return hmac.new(key, data, hashlib.sha256).digest()


def noise_hkdf(chaining_key, ikm):
    temp = hmac256(chaining_key, ikm)
    first = hmac256(temp, b"\x01")
    return first, hmac256(temp, first + b"\x02")


def rfc5869_32(ikm, salt, info):
    prk = hmac256(salt, ikm)
    return hmac256(prk, info + b"\x01")


def nonce12(n):
    return bytes(4) + struct.pack("<Q", n)


class Handshake:
    def __init__(self, responder_static_pk):
        self.h = hashlib.sha256(PROTOCOL_NAME).digest()
        self.ck = self.h
        self.k = None
        self.n = 0
        self.mix_hash(b"")
        self.mix_hash(responder_static_pk)

    def mix_hash(self, data):
        self.h = hashlib.sha256(self.h + data).digest()

    def mix_key(self, ikm):
        self.ck, self.k = noise_hkdf(self.ck, ikm)
        self.n = 0

    def encrypt(self, plain):
        out = plain if self.k is None else ChaCha20Poly1305(self.k).encrypt(nonce12(self.n), plain, self.h)
        if self.k is not None:
            self.n += 1
        self.mix_hash(out)
        return out

    def decrypt(self, cipher):
        out = cipher if self.k is None else ChaCha20Poly1305(self.k).decrypt(nonce12(self.n), cipher, self.h)
        if self.k is not None:
            self.n += 1
        self.mix_hash(cipher)
        return out


def prefixed(body):
    assert len(body) <= 4094
    return struct.pack(">H", len(body)) + body


def run_handshake(case):
    i_sk, r_sk = case["initiator_static_sk"], case["responder_static_sk"]
    i_e, r_e = case["initiator_ephemeral_sk"], case["responder_ephemeral_sk"]
    r_pk, i_pk = public_key(r_sk), public_key(i_sk)

    # Message 1, written by the initiator.
    ini = Handshake(r_pk)
    i_epk = public_key(i_e)
    ini.mix_hash(i_epk)
    ini.mix_key(skywire_dh(i_e, r_pk))
    offer = None
    if case["initiator_offers_pq"]:
        ek, openssl_key = mlkem_keygen(case["mlkem_d"], case["mlkem_z"])
        offer = (ek, openssl_key)
    msg1 = i_epk + ini.encrypt(offer[0] if offer else b"")

    # Message 1, read by the responder; message 2 written.
    res = Handshake(r_pk)
    res.mix_hash(msg1[:33])
    res.mix_key(skywire_dh(r_sk, msg1[:33]))
    payload1 = res.decrypt(msg1[33:])
    shared_r, ciphertext = None, b""
    if case["responder_answers_pq"] and len(payload1) == 1184:
        ciphertext, shared_r = mlkem_encaps(payload1, case["mlkem_m"])
    r_epk = public_key(r_e)
    res.mix_hash(r_epk)
    res.mix_key(skywire_dh(r_e, msg1[:33]))
    msg2 = r_epk + res.encrypt(ciphertext)

    # Message 2, read by the initiator; message 3 written.
    ini.mix_hash(msg2[:33])
    ini.mix_key(skywire_dh(i_e, msg2[:33]))
    payload2 = ini.decrypt(msg2[33:])
    shared_i = None
    if offer and len(payload2) == 1088:
        shared_i = offer[1].decapsulate(payload2)
        assert shared_i == shared_r, "ML-KEM encapsulation disagrees with OpenSSL"
    msg3 = ini.encrypt(i_pk)
    ini.mix_key(skywire_dh(i_sk, msg2[:33]))
    msg3 += ini.encrypt(b"")

    # Message 3, read by the responder.
    assert res.decrypt(msg3[:49]) == i_pk
    res.mix_key(skywire_dh(r_e, i_pk))
    assert res.decrypt(msg3[49:]) == b""
    assert res.h == ini.h and res.ck == ini.ck

    k1, k2 = noise_hkdf(ini.ck, b"")
    # The Go code gives the writer of the last message (the initiator) k2 to send with.
    i_send, i_recv = k2, k1
    if shared_i is not None:
        i_send = rfc5869_32(i_send + shared_i, ini.h, PQ_INFO)
        i_recv = rfc5869_32(i_recv + shared_i, ini.h, PQ_INFO)
    return {
        "msg1": prefixed(msg1),
        "msg2": prefixed(msg2),
        "msg3": prefixed(msg3),
        "pq": shared_i is not None,
        "pq_shared_secret": shared_i,
        "handshake_hash": ini.h,
        "k1": k1,
        "k2": k2,
        "initiator_send_key": i_send,
        "initiator_recv_key": i_recv,
    }


# ------------------------------------------------------------------ records and chat frames
def records(key, first_nonce, plain):
    out, nonce = b"", first_nonce
    for start in range(0, len(plain), 4070):
        chunk = plain[start:start + 4070]
        body = struct.pack(">Q", nonce) + ChaCha20Poly1305(key).encrypt(nonce12(nonce), chunk, None)
        out += prefixed(body)
        nonce += 1
    return out, nonce


def chat_frame(key, first_nonce, payload):
    """As the Go writer: the u32 header in one record, the payload in the next ones."""
    header, nonce = records(key, first_nonce, struct.pack(">I", len(payload)))
    body, nonce = records(key, nonce, payload)
    return header + body, nonce


def go_json(fields):
    text = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text.encode()


def chacha20_stream(seed, length):
    """The keystream of ChaCha20 with key `seed`, nonce 0 and counter 0."""
    encryptor = Cipher(algorithms.ChaCha20(seed, bytes(16)), mode=None).encryptor()
    return encryptor.update(bytes(length))


# ------------------------------------------------------------------ the vectors
def fixed(label):
    return hashlib.sha256(b"skychat skywire vector: " + label.encode()).digest()


def main():
    cases = []
    for name, offers, answers in (("pq", True, True), ("classical", False, True),
                                  ("downgrade", True, False)):
        case = {
            "name": name,
            "initiator_offers_pq": offers,
            "responder_answers_pq": answers,
            "initiator_static_sk": fixed("initiator static"),
            "responder_static_sk": fixed("responder static"),
            "initiator_ephemeral_sk": fixed(name + " initiator ephemeral"),
            "responder_ephemeral_sk": fixed(name + " responder ephemeral"),
            "mlkem_d": fixed(name + " ml-kem d"),
            "mlkem_z": fixed(name + " ml-kem z"),
            "mlkem_m": fixed(name + " ml-kem m"),
        }
        case["initiator_static_pk"] = public_key(case["initiator_static_sk"])
        case["responder_static_pk"] = public_key(case["responder_static_sk"])
        case.update(run_handshake(case))
        i_send, i_recv = case["initiator_send_key"], case["initiator_recv_key"]
        hello = b"hello from the vectors"
        case["initiator_text"] = hello
        case["initiator_text_wire"], next_nonce = chat_frame(i_send, 1, hello)
        long_text = bytes(ord("a") + i % 26 for i in range(10_000))
        case["initiator_long_text"] = long_text
        case["initiator_long_text_wire"], _ = chat_frame(i_send, next_nonce, long_text)
        ack = go_json({"type": "chat-ack", "id": "0011223344556677"})
        case["responder_ack"] = ack
        case["responder_ack_wire"], _ = chat_frame(i_recv, 1, ack)
        cases.append(case)

    keys = []
    for label in ("one", "vector key a", "vector key b"):
        sk = (1).to_bytes(32, "big") if label == "one" else fixed(label)
        keys.append({"sk": sk, "pk": public_key(sk)})

    envelopes = [
        go_json({"type": "chat-msg", "id": "18ed0000aa55", "body": "pq <ack> & co", "ack": True}),
        go_json({"type": "chat-msg", "id": "cd7d", "body": "a reply \u2028 line", "reply_to": "18ed0000aa55"}),
        go_json({"type": "chat-ack", "id": "18ed0000aa55"}),
        go_json({"type": "chat-read", "id": "18ed0000aa55"}),
        go_json({"type": "chat-delete", "id": "cd7d"}),
    ]

    seed = fixed("session seed")
    stream = chacha20_stream(seed, 128)
    seeded = {
        "seed": seed,
        "ephemeral_sk": stream[:32],
        "mlkem_d": stream[32:64],
        "mlkem_z": stream[64:96],
        "mlkem_m": stream[96:128],
    }
    assert 0 < int.from_bytes(stream[:32], "big") < ORDER

    def as_json(value):
        if isinstance(value, bytes):
            return value.hex()
        if isinstance(value, dict):
            return {k: as_json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [as_json(v) for v in value]
        return value

    doc = {
        "about": "Skywire suite vectors; regenerate with "
                 "python3 core/tests/vectors/skywire_vectors.py > core/tests/vectors/skywire_vectors.json",
        "keys": keys,
        "handshakes": cases,
        "envelopes": [e.decode() for e in envelopes],
        "seeded_randomness": seeded,
    }
    json.dump(as_json(doc), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
