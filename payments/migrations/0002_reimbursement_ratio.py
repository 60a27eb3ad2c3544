
import django.core.validators
from decimal import Decimal
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='ReimbursementRatio',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('year', models.PositiveSmallIntegerField(validators=[django.core.validators.MinValueValidator(2000), django.core.validators.MaxValueValidator(2100)], verbose_name='year')),
                ('insurance_type', models.CharField(choices=[('employee', 'employee basic medical insurance'), ('resident', 'urban and rural resident medical insurance')], max_length=10, verbose_name='insurance type')),
                ('category', models.CharField(choices=[('outpatient', 'outpatient'), ('inpatient', 'inpatient'), ('pharmacy', 'pharmacy'), ('exam', 'exam'), ('home_service', 'home service')], max_length=20, verbose_name='category')),
                ('fund_ratio', models.DecimalField(decimal_places=4, help_text='The share of a charge the fund pays, from 0 to 1 (0.75 is 75 %).', max_digits=5, validators=[django.core.validators.MinValueValidator(Decimal('0')), django.core.validators.MaxValueValidator(Decimal('1'))], verbose_name='fund ratio')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated at')),
            ],
            options={
                'verbose_name': 'reimbursement ratio',
                'verbose_name_plural': 'reimbursement ratios',
                'ordering': ['-year', 'insurance_type', 'category'],
                'constraints': [models.UniqueConstraint(fields=('year', 'insurance_type', 'category'), name='reimbursementratio_one_per_year_type_category', violation_error_message='This year already has a ratio for this insurance type and category.'), models.CheckConstraint(condition=models.Q(('fund_ratio__gte', 0), ('fund_ratio__lte', 1)), name='reimbursementratio_ratio_0_1', violation_error_message='A fund ratio lies between 0 and 1.'), models.CheckConstraint(condition=models.Q(('year__gte', 2000), ('year__lte', 2100)), name='reimbursementratio_year_plausible', violation_error_message='The year must lie between 2000 and 2100.'), models.CheckConstraint(condition=models.Q(('insurance_type__in', ['employee', 'resident'])), name='reimbursementratio_insurance_type_valid', violation_error_message='Unknown insurance type.'), models.CheckConstraint(condition=models.Q(('category__in', ['outpatient', 'inpatient', 'pharmacy', 'exam', 'home_service'])), name='reimbursementratio_category_valid', violation_error_message='Unknown claim category.')],
            },
        ),
    ]
