"""Custom fields defined through the service, as an admin would on /settings/fields/."""

from __future__ import annotations

import pytest


@pytest.fixture
def fields(reference_data, admin):
    from contacts.fields import custom_field_save

    def save(**data):
        return custom_field_save(data=data, by=admin)

    return {
        "employees": save(key="employees", label_en="Employees", label_id="Jumlah karyawan", type="number", position=1),
        "renewal": save(key="renewal", label_en="Renewal date", label_id="Tanggal perpanjangan", type="date", position=2),
        "plan": save(key="plan", label_en="Plan", label_id="Paket", type="choice", position=3,
                     choices=[{"value": "gold", "label_en": "Gold", "label_id": "Emas"}, {"value": "basic"}]),
        "hobby": save(key="hobby", label_en="Hobby", label_id="Hobi", type="text", position=4),
    }
