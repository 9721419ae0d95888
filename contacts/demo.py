"""Realistic demo data: Indonesian names, cities, phones, companies and sources, with
interaction histories over the last 180 days that follow plausible journeys per
industry (including the many people who never progress). Reproducible from a seed.

Used by `seed_demo` and by the benchmark generator."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

FIRST = ("Budi Siti Agus Dewi Rina Andi Putri Eko Wahyu Sri Ahmad Nur Fitri Dian Rizky Ayu Bayu Indah Hendra Lestari "
         "Yusuf Ratna Fajar Maya Arif Wulan Dimas Sari Teguh Nabila Galih Intan Rudi Citra Joko Mega Irfan Anisa "
         "Kevin Michelle Stefanus Yohana Made Ketut Wayan Komang Ucok Butet Asep Euis Ujang Neng").split()
LAST = ("Santoso Wijaya Pratama Saputra Susanto Hidayat Kurniawan Setiawan Nugroho Siregar Simanjuntak Nasution "
        "Lubis Harahap Wibowo Purnomo Gunawan Halim Tanoto Salim Hakim Rahman Permana Sutrisno Utomo Wirawan "
        "Putra Lestari Anggraini Maharani Suryadi Tambunan Sinaga Pangaribuan Manurung Gultom Daulay Ginting").split()
CITIES = (("Jakarta", 22), ("Surabaya", 9), ("Bandung", 8), ("Medan", 6), ("Semarang", 5), ("Makassar", 4),
          ("Tangerang", 6), ("Bekasi", 6), ("Depok", 4), ("Yogyakarta", 4), ("Denpasar", 3), ("Palembang", 3),
          ("Malang", 3), ("Balikpapan", 2), ("Pekanbaru", 2), ("Manado", 1), ("Pontianak", 1), ("Padang", 2))
COMPANY_WORDS = ("Maju Jaya Sentosa Makmur Abadi Sejahtera Mandiri Nusantara Karya Prima Sukses Utama Bersama "
                 "Indo Digital Solusi Teknologi Global Mitra Cipta Sinar Harapan Berkah Gemilang").split()
JOB_TITLES = ("Staff", "Marketing Manager", "Direktur", "Owner", "Procurement Manager", "HR Manager", "IT Manager",
              "Finance Director", "Mahasiswa", "Guru", "Dokter", "Karyawan Swasta", "Wiraswasta", "Head of Operations",
              "General Manager", "Admin", "Supervisor")
FREE_MAIL = ("gmail.com", "gmail.com", "gmail.com", "yahoo.com", "yahoo.co.id", "hotmail.com", "outlook.com")
SOURCES = (("instagram", "social", 18), ("tiktok", "social", 12), ("facebook", "cpc", 12), ("google", "cpc", 14),
           ("website", "organic", 14), ("whatsapp", "chat", 8), ("tokopedia", "marketplace", 5), ("event", "offline", 5),
           ("referral", "referral", 6), ("linkedin", "social", 6))
CAMPAIGNS = ("ramadan_sale", "harbolnas_1212", "back_to_school", "mcu_promo", "webinar_series", "brand_awareness",
             "lead_magnet_ebook", "retargeting", "payday_sale", "new_year")
INDUSTRIES = (("ecommerce", 35), ("b2b", 25), ("healthcare", 15), ("education", 15), ("other", 10))

# Journeys: (awareness/interest kinds, intent kinds, conversion kinds, typical hours between steps)
JOURNEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], float]] = {
    "ecommerce": (("page_viewed", "product_viewed", "ad_clicked", "social_followed", "email_opened", "email_clicked",
                   "newsletter_subscribed", "social_engaged", "whatsapp_message", "form_submitted"),
                  ("cart_added", "checkout_started", "price_requested", "competitor_compared"), ("purchase",), 6),
    "b2b": (("page_viewed", "email_opened", "email_clicked", "ad_clicked", "social_followed", "form_submitted",
             "content_downloaded", "whitepaper_downloaded", "webinar_registered", "webinar_attended"),
            ("demo_requested", "consultation_requested", "price_requested", "quote_requested", "competitor_compared"),
            ("contract_signed",), 24 * 12),
    "healthcare": (("page_viewed", "email_opened", "ad_clicked", "social_followed", "social_engaged", "form_submitted",
                    "whatsapp_message", "content_downloaded", "webinar_registered"),
                   ("checkup_form_submitted", "consultation_requested", "price_requested"),
                   ("appointment_booked", "screening_result_downloaded"), 24 * 3),
    "education": (("page_viewed", "email_opened", "ad_clicked", "social_followed", "form_submitted", "brochure_requested",
                   "seminar_registered", "webinar_registered", "webinar_attended", "whatsapp_message"),
                  ("curriculum_consultation", "campus_visit", "price_requested"), ("enrolled",), 24 * 7),
    "other": (("page_viewed", "email_opened", "ad_clicked", "social_followed", "form_submitted", "content_downloaded"),
              ("price_requested", "quote_requested", "demo_requested"), ("purchase",), 24 * 4),
}
# Persona mix: most people never progress.
PERSONAS = (("cold", 52), ("warm", 29), ("hot", 16), ("converted", 3))
CHANNEL_OF = {"email_opened": "email", "email_clicked": "email", "newsletter_subscribed": "email", "unsubscribed": "email",
              "email_bounced": "email", "ad_clicked": "ads", "social_followed": "social", "social_engaged": "social",
              "whatsapp_message": "whatsapp", "purchase": "web", "appointment_booked": "phone", "campus_visit": "event",
              "seminar_registered": "event"}


def _weighted(rng: random.Random, pairs):
    values, weights = zip(*[(p[:-1] if len(p) > 2 else p[0], p[-1]) for p in pairs], strict=True)
    return rng.choices(values, weights)[0]


@dataclass
class DemoContact:
    fields: dict[str, Any]
    interactions: list[tuple[str, datetime, str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class DemoGenerator:
    seed: int = 42
    now: datetime | None = None
    days: int = 180

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def contacts(self, n: int, start: int = 0) -> Iterator[DemoContact]:
        for i in range(start, start + n):
            yield self.contact(i)

    def contact(self, i: int) -> DemoContact:
        rng = self.rng
        first, last = rng.choice(FIRST), rng.choice(LAST)
        industry = _weighted(rng, INDUSTRIES)
        source, medium = _weighted(rng, SOURCES)
        company = "" if industry == "ecommerce" and rng.random() < 0.8 else f"PT {rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_WORDS)}"
        slug = f"{first}.{last}{i}".lower()
        domain = rng.choice(FREE_MAIL) if not company or rng.random() < 0.5 else (
            company[3:].replace(" ", "").lower() + ".co.id")
        has_email, has_phone = rng.random() < 0.85, rng.random() < 0.75
        fields = {
            "full_name": f"{first} {last}",
            "email": f"{slug}@{domain}" if has_email or not has_phone else None,
            "phone": f"+628{rng.choice('1257')}{i:09d}"[:14] if has_phone else None,
            "social_handle": f"@{slug.replace('.', '_')}" if source in ("instagram", "tiktok") else "",
            "company": company,
            "job_title": rng.choice(JOB_TITLES) if company or rng.random() < 0.3 else "",
            "city": _weighted(rng, CITIES),
            "industry": industry,
            "source": source,
            "utm_source": source if medium in ("cpc", "social") else "",
            "utm_medium": medium if medium in ("cpc", "social") else "",
            "utm_campaign": rng.choice(CAMPAIGNS) if medium in ("cpc", "social") else "",
            "consent_email": has_email and rng.random() < 0.6,
            "consent_whatsapp": has_phone and rng.random() < 0.5,
            "consent_sms": has_phone and rng.random() < 0.2,
            "do_not_contact": rng.random() < 0.02,
            "attributes": self._attributes(industry),
        }
        contact = DemoContact(fields)
        contact.interactions = self.journey(industry)
        return contact

    def _attributes(self, industry: str) -> dict[str, Any]:
        rng = self.rng
        if industry == "ecommerce":
            return {"cart_value": rng.choice([0, 75000, 150000, 350000, 600000, 1200000])}
        if industry == "healthcare":
            return {"age": rng.randint(18, 70)}
        if industry == "education":
            return {"graduation_year": rng.choice([2026, 2027, 2028])}
        if industry == "b2b":
            return {"employees": rng.choice([5, 20, 50, 120, 500, 2000])}
        return {}

    def journey(self, industry: str) -> list[tuple[str, datetime, str, dict[str, Any]]]:
        """A person's interactions, oldest first: a few touches of interest, then perhaps
        intent, then perhaps a conversion, spaced by the industry's typical pace."""
        rng = self.rng
        now = self.now or datetime.now().astimezone()
        interest, intent, conversion, pace_hours = JOURNEYS[industry]
        persona = _weighted(rng, PERSONAS)
        steps: list[str] = []
        n_interest = {"cold": rng.randint(0, 2), "warm": rng.randint(2, 6), "hot": rng.randint(3, 8), "converted": rng.randint(3, 9)}[persona]
        steps += [rng.choice(interest if persona != "cold" else interest[:4]) for _ in range(n_interest)]
        if persona in ("hot", "converted"):
            steps += rng.sample(intent, k=min(len(intent), rng.randint(1, 2)))
        if persona == "converted":
            steps.append(rng.choice(conversion))
        if rng.random() < 0.03:
            steps.append(rng.choice(("unsubscribed", "email_bounced")))
        if not steps:
            return []
        span = timedelta(hours=pace_hours * len(steps) * rng.uniform(0.3, 1.5))
        start = now - timedelta(days=rng.uniform(0, self.days))
        if start + span > now:
            start = now - span if span < timedelta(days=self.days) else now - timedelta(days=self.days)
        out = []
        for k, kind in enumerate(steps):
            at = start + span * (k / max(len(steps) - 1, 1)) + timedelta(minutes=rng.randint(0, 59))
            at = min(at, now - timedelta(minutes=1))
            out.append((kind, at, CHANNEL_OF.get(kind, "web"), self._data(kind)))
        return out

    def _data(self, kind: str) -> dict[str, Any]:
        rng = self.rng
        if kind == "page_viewed":
            return {"path": rng.choice(["/", "/produk", "/promo/1212", "/blog/tips", "/harga", "/tentang-kami"])}
        if kind == "form_submitted":
            return {"form": rng.choice(["ebook", "konsultasi", "newsletter", "promo"]), "company_size": rng.choice([1, 10, 50, 200])}
        if kind == "purchase":
            return {"order_value": rng.choice([89000, 150000, 420000, 1250000])}
        return {}
