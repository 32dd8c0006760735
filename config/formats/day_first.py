"""What a person may type as a date in the admin, in any language: day first, or ISO.

Luxembourg and Mali write the day first; "05/06/2018" is 5 June 2018, never 6 May. Month-first
forms are never accepted. The first format is the one forms render and the admin's calendar
fills in; ISO (2018-06-05) stays accepted everywhere (Django appends it to every input list).
"""

DATE_INPUT_FORMATS = [
    "%d/%m/%Y",  # 05/06/2018
    "%Y-%m-%d",  # 2018-06-05
    "%d/%m/%y",  # 05/06/18
    "%d.%m.%Y",  # 05.06.2018
    "%d-%m-%Y",  # 05-06-2018
]
DATETIME_INPUT_FORMATS = [
    *(f"{day} %H:%M:%S" for day in DATE_INPUT_FORMATS),
    *(f"{day} %H:%M" for day in DATE_INPUT_FORMATS),
    *DATE_INPUT_FORMATS,
]
# Shown, too, day first (Django's English short format is month first: 08/01/2016 for 1 August).
SHORT_DATE_FORMAT = "d/m/Y"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
