"""The import feature: spreadsheets in, contacts and interactions out (and the import, export
and duplicate pages). The /import/ pages, the `import_contacts` command and the Celery tasks
all go through the same service functions:

    file_inspect   (files) read a CSV (any common delimiter and encoding) or XLSX: header, row count, preview
    mapping_guess  (guess) suggest a mapping of columns to contact fields (Indonesian and English headers)
    import_receive (run) store an uploaded file as an ImportJob (status "parsing") after the cheap
                   checks, and queue import_parse (a Celery task with a time limit)
    import_parse   the heavy read (unpack, count rows, preview, guess a mapping): "parsing" to
                   "uploaded" (waiting for a mapping) or "failed" with the reason
    import_create  the same read in this process (the command): an ImportJob ready for a mapping
    import_start   validate and store the mapping, queue the run after commit
    import_run     import in chunks of CHUNK_SIZE rows, each chunk in its own transaction with its
                   claim (ImportChunk), so CRM_IMPORT_RUNNERS tasks share a job and a resumed run
                   does only the chunks left; then ONE bulk rescore of the contacts the import touched

Every row is written through contacts.services (contact_upsert / interaction_log with
rescore=False; brand-new people in bulk through the same clean_contact_data and contact_new),
so de-duplication and validation are the same as for every other way in.

A mapping is plain JSON (stored on the job, downloadable, and shipped for known files in
contacts/imports/mappings/):

    {"source": "crm_lama", "identity": "auto" | "row", "defaults": {"industry": "b2b"},
     "blank_values": ["unknown"],
     "columns": {"No HP": "phone", "duration": "ignore", "pdays": {"target": "attribute", "blank": ["-1"]},
                 "Last Activity Date": {"target": "interaction", "kind": "page_viewed", "mode": "date"},
                 "Last Activity": {"target": "activity", "values": {"Email Opened": "email_opened", "SMS Sent": ""}},
                 "TotalVisits": {"target": "count", "kind": "page_viewed"},
                 "Time on site": "number", "Do Not Email": "opt_out_email",
                 "y": {"target": "interaction", "kind": "purchase", "mode": "flag", "truthy": ["yes"]}}}

Columns not named in "columns" go into the contact's attributes under their header name.

Modules: files (reading and sniffing), profiling (what a column holds) and synonyms (other
CRMs' words) feed guess (a suggested mapping); mapping (the format and its checks); cells
(parsing values); validation (a row's plan); writing (a chunk into the database); run (the
job's life); reports and privacy (what a job stores); views, forms, urls and tasks (the pages
and the Celery tasks).

Only what identifies a contact refuses a row (no email, phone or reference; an invalid email or
phone that is the only identity). A bad cell in any other column is left out of the row, which
is imported, and listed as a warning (row, column, value, reason) apart from the refused rows.
"""

