"""The history's ip_address column is labelled "IP address" (a label only: no schema change)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("configurations", "0011_metadata_value_types"),
    ]

    operations = [
        migrations.AlterField(
            model_name="configurationhistory",
            name="ip_address",
            field=models.GenericIPAddressField(blank=True, null=True, verbose_name="IP address"),
        ),
        migrations.AlterField(
            model_name="configurationhistoryarchive",
            name="ip_address",
            field=models.GenericIPAddressField(blank=True, null=True, verbose_name="IP address"),
        ),
    ]
