"""The new-contact page (/contacts/new/): its form (forms.py) and views (views.py). The write is
contacts.services.contact_create; the duplicate check is contacts.duplicates."""
