#!/usr/bin/env python3
"""Presidio on a slice of the palisade-pii bench corpus, for the ratio the bench reports.

Usage: python3 benches/pii_presidio.py CORPUS_SLICE_FILE
Prints one JSON line: bytes, seconds, MB/s, findings.

Configured for the entity kinds both tools have: e-mail, telephone (the same
regions as Palisade's default), payment card, IBAN, IP address, US SSN and
PESEL, with Presidio's pattern recognizers (regex + checksum validation +
context) only. No spaCy model can be installed from PyPI here (models ship
from GitHub releases), so the NLP engine is a blank English spaCy pipeline
(tokenizer only): Presidio's NER-based entities (names, places) are off,
which only makes Presidio faster. Each line is analysed and anonymised
(`<ENTITY>` labels) as a log shipper would; only that loop is timed, not
start-up.

Install: pip install presidio-analyzer presidio-anonymizer
"""
import json
import sys
import time

from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    PlPeselRecognizer,
    UsSsnRecognizer,
)
from presidio_anonymizer import AnonymizerEngine
import tldextract

# Presidio's e-mail validation uses tldextract, which fetches the public suffix
# list on first use; offline, use the snapshot the package ships.
tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())

ENTITIES = ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN", "PL_PESEL"]


class BlankSpacyNlpEngine(SpacyNlpEngine):
    """Presidio's spaCy engine over `spacy.blank("en")`: no model download."""

    def load(self) -> None:
        import spacy

        self.nlp = {"en": spacy.blank("en")}


def engine():
    nlp = BlankSpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank:en"}])
    nlp.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    for r in [
        EmailRecognizer(),
        PhoneRecognizer(supported_regions=("PL", "BR", "RU", "ID", "US", "GB", "DE")),
        CreditCardRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
        UsSsnRecognizer(),
        PlPeselRecognizer(supported_language="en"),
    ]:
        registry.add_recognizer(r)
    return AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=["en"])


def main():
    data = open(sys.argv[1], encoding="utf-8", errors="replace").read()
    lines = data.splitlines(keepends=True)
    analyzer = engine()
    anonymizer = AnonymizerEngine()
    analyzer.analyze(text="warm up jan@example.com", language="en", entities=ENTITIES)
    findings = 0
    out_bytes = 0
    start = time.perf_counter()
    for line in lines:
        results = analyzer.analyze(text=line, language="en", entities=ENTITIES)
        findings += len(results)
        out_bytes += len(anonymizer.anonymize(text=line, analyzer_results=results).text)
    seconds = time.perf_counter() - start
    size = len(data.encode("utf-8"))
    print(json.dumps({"bytes": size, "seconds": seconds, "mb_per_s": size / 1e6 / seconds,
                      "findings": findings, "lines": len(lines), "out_bytes": out_bytes}))


if __name__ == "__main__":
    main()
