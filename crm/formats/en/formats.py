# One date format per language, unambiguous in both ("3 Dec 2026", "3 Des 2026"): the English UI is read in
# Indonesia, where 12/03/2026 would be the 12th of March. Only the display formats are set; input formats stay Django's.
DATE_FORMAT = "j M Y"
SHORT_DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATETIME_FORMAT = "j M Y H:i"
MONTH_DAY_FORMAT = "j F"
