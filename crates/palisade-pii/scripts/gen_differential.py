#!/usr/bin/env python3
"""Differential vectors against python-stdnum: for each kind stdnum covers, about
half valid numbers (check digits computed) and half broken ones (one character
changed, check digits off, impossible dates, unused areas), each with stdnum's
verdict. tests/differential.rs asserts Palisade agrees on every row.

Deterministic (seeded). Run:
    python3 scripts/gen_differential.py > tests/data/stdnum_differential.tsv

Domain notes (documented, not hidden):
- IBAN is compared with stdnum.iban.is_valid(check_country=False): Palisade
  checks the registry (country, length, BBAN structure) and MOD 97, not the
  national check digits some countries add.
- IBAN check digits are two digits (ISO 13616-1, "2!n"): Palisade rejects a
  letter there, stdnum converts it like any BBAN letter and accepts about one
  in 97 such strings, so broken IBANs never get a letter in positions 3-4
  (see known.tsv).
- PAYMENT_CARD is compared with stdnum.luhn over numbers drawn inside issuer
  ranges with matching lengths (Palisade also checks ranges, stdnum does not).
- BR_CPF numbers of one repeated digit are not drawn (Palisade rejects them,
  stdnum accepts them; see tests/data/known.tsv).
- ID_NIK days 81-99 are not drawn (stdnum takes the day modulo 40 and accepts
  them; Palisade accepts 01-31 and 41-71 only; see known.tsv).
"""
import random
import string

import stdnum
from stdnum import iban, luhn, numdb
from stdnum.br import cnpj, cpf
from stdnum.id import nik
from stdnum.pl import nip, pesel, regon
from stdnum.ru import inn
from stdnum.us import ssn

import argparse

_args = argparse.ArgumentParser()
_args.add_argument('--seed', type=int, default=20261123)
_args.add_argument('--count', type=int, default=10_000, help='numbers per kind')
_opts = _args.parse_args()
N = _opts.count
rng = random.Random(_opts.seed)


def digits(n):
    return ''.join(rng.choice(string.digits) for _ in range(n))


def mutate(s, alphabet=string.digits):
    i = rng.randrange(len(s))
    c = rng.choice([c for c in alphabet if c != s[i]])
    return s[:i] + c + s[i + 1:]


def rows(kind, make_valid, is_valid, n=N, extra_broken=None):
    out = []
    for k in range(n):
        v = make_valid()
        r = rng.random()
        if k % 2 == 1:
            if extra_broken and r < 0.4:
                v = extra_broken()
            else:
                v = mutate(v)
        out.append((kind, v, is_valid(v)))
    return out


def pesel_valid():
    year = rng.randrange(1800, 2300)
    month = rng.randrange(1, 13)
    day = rng.randrange(1, 29)
    enc = month + {18: 80, 19: 0, 20: 20, 21: 40, 22: 60}[year // 100]
    base = f'{year % 100:02d}{enc:02d}{day:02d}' + digits(4)
    return base + pesel.calc_check_digit(base)


def pesel_bad_date():
    base = f'{rng.randrange(100):02d}{rng.choice([0, 13, 19, 33, 99, 2, 22]):02d}{rng.choice([0, 30, 31, 32, 45]):02d}' + digits(4)
    return base + pesel.calc_check_digit(base)


def nip_valid():
    while True:
        base = digits(9)
        # checksum(number) = sum(weights * digits) - last, mod 11
        check = sum(w * int(d) for w, d in zip((6, 5, 7, 2, 3, 4, 5, 6, 7), base)) % 11
        if check < 10:
            return base + str(check)


def regon_valid():
    if rng.random() < 0.5:
        base = digits(8)
        return base + regon.calc_check_digit(base)
    base = digits(8)
    nine = base + regon.calc_check_digit(base)
    rest = nine + digits(4)
    return rest + regon.calc_check_digit(rest)


def cpf_valid():
    while True:
        base = digits(9)
        if len(set(base)) > 1:
            return base + cpf._calc_check_digits(base)


def cpf_fmt(v):
    return f'{v[:3]}.{v[3:6]}.{v[6:9]}-{v[9:]}' if rng.random() < 0.5 else v


def cnpj_valid():
    alphabet = string.digits + (string.ascii_uppercase if rng.random() < 0.3 else '')
    while True:
        base = ''.join(rng.choice(alphabet) for _ in range(12))
        if not base.startswith('000000000000'):
            return base + cnpj.calc_check_digits(base)


def inn_valid():
    if rng.random() < 0.5:
        base = digits(9)
        return base + inn.calc_company_check_digit(base)
    base = digits(10)
    return base + inn.calc_personal_check_digits(base)


def luhn_valid():
    prefixes = [('4', 16), ('4', 13), ('4', 19), ('51', 16), ('55', 16), ('2221', 16), ('2720', 16),
                ('2200', 16), ('2204', 19), ('34', 15), ('37', 15), ('6011', 16), ('65', 19),
                ('36', 14), ('3528', 16), ('3589', 19), ('62', 17), ('50', 12), ('67', 18)]
    p, length = rng.choice(prefixes)
    base = p + digits(length - len(p) - 1)
    return base + luhn.calc_check_digit(base)


def luhn_mutate_in_range(v):
    # Change one digit after the issuer prefix so the range stays right.
    i = rng.randrange(4, len(v))
    c = rng.choice([c for c in string.digits if c != v[i]])
    return v[:i] + c + v[i + 1:]


_ibandb = numdb.get('iban')
COUNTRIES = []
for line in open(stdnum.__file__.replace('__init__.py', 'iban.dat'), encoding='utf-8'):
    if line[:2].isalpha() and line[:2].isupper():
        import re
        COUNTRIES.append((line[:2], re.findall(r'([1-9][0-9]*)!([nac])', re.search(r'bban="([^"]*)"', line).group(1))))


def iban_valid():
    cc, parts = rng.choice(COUNTRIES)
    chars = {'n': string.digits, 'a': string.ascii_uppercase, 'c': string.digits + string.ascii_uppercase}
    bban = ''.join(''.join(rng.choice(chars[c]) for _ in range(int(n))) for n, c in parts)
    return cc + iban.calc_check_digits(cc + '00' + bban) + bban


def iban_broken():
    v = iban_valid()
    r = rng.random()
    if r < 0.3:
        return v[:-1]  # length
    if r < 0.6:
        return v[:2] + f'{(int(v[2:4]) + rng.randrange(1, 97)) % 97 + 2:02d}'[-2:] + v[4:]
    i = rng.randrange(len(v))
    alphabet = string.digits if i in (2, 3) else string.digits + string.ascii_uppercase
    c = rng.choice([c for c in alphabet if c != v[i]])
    return v[:i] + c + v[i + 1:]


PROVINCES = [11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 31, 32, 33, 34, 35, 36, 51, 52, 53, 61, 62, 63, 64,
             71, 72, 73, 74, 75, 76, 81, 82, 91, 94]


def nik_valid():
    day = rng.randrange(1, 29) + (40 if rng.random() < 0.5 else 0)
    return f'{rng.choice(PROVINCES):02d}' + digits(4) + f'{day:02d}{rng.randrange(1, 13):02d}{rng.randrange(100):02d}' + digits(4)


def nik_broken():
    r = rng.random()
    if r < 0.3:
        prov = rng.choice([p for p in range(100) if p not in PROVINCES])
        return f'{prov:02d}' + nik_valid()[2:]
    day = rng.choice([0, 32, 35, 39, 40, 72, 79, 80, 30, 31, 70, 71])
    month = rng.choice([0, 2, 4, 13, 20, 99]) if day in (30, 31, 70, 71) else rng.randrange(1, 13)
    return f'{rng.choice(PROVINCES):02d}' + digits(4) + f'{day:02d}{month:02d}{rng.randrange(100):02d}' + digits(4)


def nik_mutate():
    # Mutations that stay out of days 81-99 (see the module docstring).
    while True:
        v = mutate(nik_valid())
        if not 81 <= int(v[6:8]) <= 99:
            return v


def ssn_any():
    if rng.random() < 0.5:
        v = f'{rng.randrange(1, 900):03d}{rng.randrange(1, 100):02d}{rng.randrange(1, 10000):04d}'
        return f'{v[:3]}-{v[3:5]}-{v[5:]}' if rng.random() < 0.5 else v
    area = rng.choice([f'{rng.randrange(1, 900):03d}', '000', '666', f'9{rng.randrange(100):02d}'])
    group = rng.choice([f'{rng.randrange(1, 100):02d}', '00'])
    serial = rng.choice([f'{rng.randrange(1, 10000):04d}', '0000'])
    v = area + group + serial
    return f'{v[:3]}-{v[3:5]}-{v[5:]}' if rng.random() < 0.5 else v


all_rows = []
all_rows += rows('PL_PESEL', pesel_valid, pesel.is_valid, extra_broken=pesel_bad_date)
all_rows += rows('PL_NIP', nip_valid, nip.is_valid)
all_rows += rows('PL_REGON', regon_valid, regon.is_valid)
all_rows += [(k, cpf_fmt(v), ok) for k, v, ok in rows('BR_CPF', cpf_valid, cpf.is_valid)]
all_rows += rows('BR_CNPJ', cnpj_valid, cnpj.is_valid)
all_rows += rows('RU_INN', inn_valid, inn.is_valid)
all_rows += rows('IBAN', iban_valid, lambda v: iban.is_valid(v, check_country=False), extra_broken=iban_broken)
cards = []
for k in range(N):
    v = luhn_valid()
    if k % 2 == 1:
        v = luhn_mutate_in_range(v)
    cards.append(('PAYMENT_CARD', v, luhn.is_valid(v)))
all_rows += cards
all_rows += rows('ID_NIK', nik_valid, nik.is_valid, extra_broken=nik_broken)
# NIK mutations must avoid days 81-99: redo the broken half.
all_rows = [r for r in all_rows if not (r[0] == 'ID_NIK' and 81 <= int(r[1][6:8] or 0) <= 99)]
while sum(1 for r in all_rows if r[0] == 'ID_NIK') < N:
    v = nik_mutate()
    all_rows.append(('ID_NIK', v, nik.is_valid(v)))
all_rows += [('US_SSN', v, ssn.is_valid(v)) for v in (ssn_any() for _ in range(N))]

print(f'# python-stdnum {stdnum.__version__} verdicts; generated by scripts/gen_differential.py --seed {_opts.seed}')
print('# kind\tvalue\tstdnum_is_valid (1/0)')
for kind, v, ok in all_rows:
    print(f'{kind}\t{v}\t{int(bool(ok))}')
