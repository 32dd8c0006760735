from django.apps import AppConfig


class ExpendituresConfig(AppConfig):
    name = "expenditures"
    verbose_name = "Expenditures"
