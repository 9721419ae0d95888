"""The starter content library: for each industry, messages for every purpose, in Bahasa Indonesia
and English, written for what that industry counts as a conversion. `manage.py load_messages`
loads them (keyed, so loading again adds what is new and never overwrites a marketer's edits)."""

from __future__ import annotations

from dataclasses import dataclass

FOOTER_ID = "\n\nTidak ingin menerima email ini lagi? Berhenti berlangganan: {{ unsubscribe_url }}"
FOOTER_EN = "\n\nDon't want these emails? Unsubscribe: {{ unsubscribe_url }}"


@dataclass(frozen=True)
class Starter:
    key: str
    industry: str
    purpose: str
    channel: str
    language: str
    name: str
    subject: str
    body: str


def _email(key, industry, purpose, language, name, subject, body) -> Starter:
    return Starter(key, industry, purpose, "email", language, name, subject,
                   body + (FOOTER_ID if language == "id" else FOOTER_EN))


def _wa(key, industry, language, name, body) -> Starter:
    return Starter(key, industry, "follow_up", "whatsapp", language, name, "", body)


STARTERS: tuple[Starter, ...] = (
    # --- Every industry ---------------------------------------------------------------
    _email("all-first-id", "", "first_touch", "id", "Perkenalan", "Halo {{ first_name }}, kenalan dulu yuk",
           "Halo {{ first_name }},\n\nTerima kasih sudah mampir. Kami membantu orang seperti Anda mengambil keputusan "
           "dengan informasi yang jelas, tanpa tekanan.\n\nSeminggu sekali kami kirim satu tulisan singkat yang berguna. "
           "Mulai dari sini: https://saring.example/mulai"),
    _email("all-first-en", "", "first_touch", "en", "Introduction", "Hi {{ first_name }}, nice to meet you",
           "Hi {{ first_name }},\n\nThanks for stopping by. We help people like you decide with clear information and "
           "no pressure.\n\nOnce a week we send one short, useful read. Start here: https://saring.example/start"),
    _email("all-edu-id", "", "education", "id", "Panduan memilih", "{{ first_name }}, 5 pertanyaan sebelum memutuskan",
           "Halo {{ first_name }},\n\nSebelum memilih, ajukan lima pertanyaan ini: apa masalah utamanya, berapa "
           "biayanya kalau dibiarkan, siapa yang akan memakai, bagaimana mengukur hasilnya, dan kapan Anda perlu hasil.\n\n"
           "Panduan lengkapnya: https://saring.example/panduan"),
    _email("all-edu-en", "", "education", "en", "How to choose", "{{ first_name }}, 5 questions before you decide",
           "Hi {{ first_name }},\n\nBefore you choose, ask five questions: what is the real problem, what does it cost "
           "to leave it, who will use the solution, how will you measure results, and when do you need them.\n\n"
           "The full guide: https://saring.example/guide"),
    _email("all-promo-id", "", "promo", "id", "Penawaran bulan ini", "Penawaran khusus untuk {{ company }}",
           "Halo {{ first_name }},\n\nKarena Anda sudah membandingkan pilihan, berikut penawaran bulan ini: potongan 10 % "
           "untuk pemesanan sebelum akhir bulan.\n\nLihat harga: https://saring.example/harga\n\n{{ owner_name }}"),
    _email("all-promo-en", "", "promo", "en", "This month's offer", "A special offer for {{ company }}",
           "Hi {{ first_name }},\n\nSince you have been comparing options, here is this month's offer: 10 % off when you "
           "order before the end of the month.\n\nSee prices: https://saring.example/pricing\n\n{{ owner_name }}"),
    _email("all-follow-id", "", "follow_up", "id", "Tindak lanjut personal", "{{ first_name }}, boleh saya bantu?",
           "Halo {{ first_name }},\n\nSaya {{ owner_name }}. Saya lihat Anda tertarik; kapan waktu yang pas untuk "
           "ngobrol 15 menit? Balas email ini dengan waktu yang Anda suka.\n\nSalam,\n{{ owner_name }}"),
    _email("all-follow-en", "", "follow_up", "en", "Personal follow-up", "{{ first_name }}, can I help?",
           "Hi {{ first_name }},\n\nI'm {{ owner_name }}. I saw you're interested; when would 15 minutes suit you? "
           "Reply with a time that works.\n\nBest,\n{{ owner_name }}"),
    _email("all-onboard-id", "", "onboarding", "id", "Selamat datang", "Selamat datang, {{ first_name }}!",
           "Halo {{ first_name }},\n\nTerima kasih sudah bergabung. Tiga langkah pertama ada di sini: "
           "https://saring.example/mulai-pakai\n\nAda pertanyaan? Balas email ini, {{ owner_name }} siap membantu."),
    _email("all-onboard-en", "", "onboarding", "en", "Welcome", "Welcome aboard, {{ first_name }}!",
           "Hi {{ first_name }},\n\nThank you for joining. Your first three steps are here: "
           "https://saring.example/get-started\n\nQuestions? Reply to this email; {{ owner_name }} is happy to help."),
    # --- Education: brochure, seminar/webinar, curriculum consultation -----------------
    _email("edu-edu-id", "education", "education", "id", "Brosur program", "Brosur program untuk {{ first_name }}",
           "Halo {{ first_name }},\n\nIni brosur lengkap program kami: kurikulum, jadwal, dan profil pengajar. "
           "Unduh di sini: https://saring.example/brosur\n\nDi dalamnya juga ada cerita alumni dari {{ city }}."),
    _email("edu-edu-en", "education", "education", "en", "Programme brochure", "Your programme brochure, {{ first_name }}",
           "Hi {{ first_name }},\n\nHere is our full programme brochure: curriculum, schedule and teachers. "
           "Download it here: https://saring.example/brochure\n\nIt includes stories from alumni in {{ city }}."),
    _email("edu-webinar-id", "education", "education", "id", "Undangan webinar", "Webinar gratis: memilih jurusan yang tepat",
           "Halo {{ first_name }},\n\nKami mengundang Anda ke webinar gratis \"Memilih jurusan yang tepat\" bersama "
           "konselor kami, Sabtu pukul 10.00 WIB.\n\nDaftar: https://saring.example/webinar"),
    _email("edu-webinar-en", "education", "education", "en", "Webinar invitation", "Free webinar: choosing the right major",
           "Hi {{ first_name }},\n\nJoin our free webinar \"Choosing the right major\" with our counsellors, Saturday at "
           "10:00 WIB.\n\nRegister: https://saring.example/webinar-en"),
    _email("edu-follow-id", "education", "follow_up", "id", "Konsultasi kurikulum", "Jadwalkan konsultasi kurikulum",
           "Halo {{ first_name }},\n\nSaya {{ owner_name }}, konselor akademik. Mari bahas kurikulum yang cocok untuk "
           "tujuan Anda dalam konsultasi 30 menit, gratis.\n\nPilih waktu: https://saring.example/konsultasi"),
    _email("edu-follow-en", "education", "follow_up", "en", "Curriculum consultation", "Book a curriculum consultation",
           "Hi {{ first_name }},\n\nI'm {{ owner_name }}, an academic counsellor. Let's find the curriculum that fits "
           "your goals in a free 30-minute consultation.\n\nPick a time: https://saring.example/consultation"),
    # --- B2B: whitepaper, webinar, demo --------------------------------------------------
    _email("b2b-edu-id", "b2b", "education", "id", "Whitepaper", "Whitepaper: mengukur ROI untuk {{ company }}",
           "Halo {{ first_name }},\n\nBanyak tim seperti {{ company }} kesulitan mengukur hasil. Whitepaper kami "
           "menjelaskan cara menghitung ROI dalam 4 langkah, dengan contoh dari perusahaan Indonesia.\n\n"
           "Unduh: https://saring.example/whitepaper"),
    _email("b2b-edu-en", "b2b", "education", "en", "Whitepaper", "Whitepaper: measuring ROI at {{ company }}",
           "Hi {{ first_name }},\n\nMany teams like {{ company }} struggle to measure results. Our whitepaper shows how to "
           "calculate ROI in 4 steps, with examples from Indonesian companies.\n\nDownload: https://saring.example/whitepaper-en"),
    _email("b2b-webinar-id", "b2b", "education", "id", "Undangan webinar", "Webinar: studi kasus industri Anda",
           "Halo {{ first_name }},\n\nKamis ini kami membedah studi kasus dari industri Anda: apa yang berhasil, apa "
           "yang tidak, dan angkanya.\n\nDaftar gratis: https://saring.example/webinar-b2b"),
    _email("b2b-webinar-en", "b2b", "education", "en", "Webinar invitation", "Webinar: a case study from your industry",
           "Hi {{ first_name }},\n\nThis Thursday we take apart a case study from your industry: what worked, what didn't, "
           "and the numbers.\n\nRegister for free: https://saring.example/webinar-b2b-en"),
    _email("b2b-follow-id", "b2b", "follow_up", "id", "Tawaran demo", "Demo 30 menit untuk {{ company }}?",
           "Halo {{ first_name }},\n\nSaya {{ owner_name }}. Bagaimana kalau kita lihat langsung cara kerjanya untuk "
           "{{ company }} dalam demo 30 menit?\n\nPilih jadwal: https://saring.example/demo"),
    _email("b2b-follow-en", "b2b", "follow_up", "en", "Demo offer", "A 30-minute demo for {{ company }}?",
           "Hi {{ first_name }},\n\nI'm {{ owner_name }}. Shall we look at how it would work for {{ company }} in a "
           "30-minute demo?\n\nPick a slot: https://saring.example/demo-en"),
    # --- Healthcare: appointment, check-up form, screening --------------------------------
    _email("health-edu-id", "healthcare", "education", "id", "Panduan skrining", "Skrining apa yang Anda perlukan tahun ini?",
           "Halo {{ first_name }},\n\nPanduan singkat dari dokter kami: skrining kesehatan yang dianjurkan menurut usia, "
           "dan cara mempersiapkannya.\n\nBaca panduannya: https://saring.example/skrining"),
    _email("health-edu-en", "healthcare", "education", "en", "Screening guide", "Which screenings do you need this year?",
           "Hi {{ first_name }},\n\nA short guide from our doctors: the health screenings recommended for your age, and "
           "how to prepare.\n\nRead the guide: https://saring.example/screening"),
    _email("health-follow-id", "healthcare", "follow_up", "id", "Jadwalkan pemeriksaan", "Jadwalkan pemeriksaan Anda",
           "Halo {{ first_name }},\n\nSaya {{ owner_name }} dari tim layanan pasien. Kami bisa membantu menjadwalkan "
           "medical check-up Anda minggu ini.\n\nBuat janji: https://saring.example/janji"),
    _email("health-follow-en", "healthcare", "follow_up", "en", "Book a check-up", "Book your check-up",
           "Hi {{ first_name }},\n\nI'm {{ owner_name }} from patient services. We can book your medical check-up this "
           "week.\n\nMake an appointment: https://saring.example/appointment"),
    # --- E-commerce: purchase -----------------------------------------------------------------
    _email("shop-edu-id", "ecommerce", "education", "id", "Panduan belanja", "Cara memilih produk yang pas",
           "Halo {{ first_name }},\n\nBingung memilih? Panduan kami membandingkan ukuran, bahan, dan perawatan, "
           "supaya Anda membeli sekali dan puas.\n\nLihat panduan: https://saring.example/panduan-belanja"),
    _email("shop-edu-en", "ecommerce", "education", "en", "Buying guide", "How to pick the right product",
           "Hi {{ first_name }},\n\nNot sure which to choose? Our guide compares sizes, materials and care, so you buy "
           "once and stay happy.\n\nSee the guide: https://saring.example/buying-guide"),
    _email("shop-promo-id", "ecommerce", "promo", "id", "Keranjang menunggu", "Barang di keranjang Anda masih ada",
           "Halo {{ first_name }},\n\nBarang yang Anda lihat masih tersedia, dan ada gratis ongkir sampai besok.\n\n"
           "Lanjutkan belanja: https://saring.example/keranjang"),
    _email("shop-promo-en", "ecommerce", "promo", "en", "Cart reminder", "Your cart is still waiting",
           "Hi {{ first_name }},\n\nThe items you looked at are still in stock, with free shipping until tomorrow.\n\n"
           "Continue shopping: https://saring.example/cart"),
    # --- WhatsApp follow-ups (click-to-chat texts for reps) ------------------------------------
    _wa("all-wa-id", "", "id", "Sapa lewat WhatsApp",
        "Halo {{ first_name }}, saya {{ owner_name }}. Terima kasih atas minat Anda. Ada yang bisa saya bantu jelaskan?"),
    _wa("all-wa-en", "", "en", "WhatsApp hello",
        "Hi {{ first_name }}, this is {{ owner_name }}. Thanks for your interest. Anything I can help explain?"),
    _wa("edu-wa-id", "education", "id", "WhatsApp konsultasi",
        "Halo {{ first_name }}, saya {{ owner_name }}, konselor akademik. Mau saya jadwalkan konsultasi kurikulum gratis?"),
    _wa("b2b-wa-id", "b2b", "id", "WhatsApp demo",
        "Halo {{ first_name }}, saya {{ owner_name }}. Boleh saya tunjukkan demo singkat untuk {{ company }} minggu ini?"),
    _wa("health-wa-id", "healthcare", "id", "WhatsApp janji temu",
        "Halo {{ first_name }}, saya {{ owner_name }}. Mau kami bantu buat janji pemeriksaan minggu ini?"),
    _wa("shop-wa-id", "ecommerce", "id", "WhatsApp belanja",
        "Halo {{ first_name }}, saya {{ owner_name }}. Ada pertanyaan soal produk yang Anda lihat? Saya bantu."),
)
