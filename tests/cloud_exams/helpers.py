"""Walk an order through the lab: order, collect, receive, enter, verify."""

from decimal import Decimal

from cloud_exams import services
from cloud_exams.models import ExamOrder, ExamOrderItem, ExamResult


def order(doctor, patient, *codes, source=ExamOrder.Source.CLINIC_VISIT) -> ExamOrder:
    return services.order_exams(
        ordered_by=doctor,
        patient=patient,
        ordering_institution=patient.home_institution,
        item_codes=list(codes),
        source=source,
    )


def item_of(exam_order: ExamOrder, code: str) -> ExamOrderItem:
    return exam_order.items.get(item__code=code)


def collect_and_receive(exam_order: ExamOrder, collector, receiver) -> None:
    for specimen in exam_order.specimens.all():
        services.collect_specimen(user=collector, specimen=specimen)
        services.receive_specimen(user=receiver, specimen=specimen)


def entered(doctor, patient, lab, code, value, *, nurse=None) -> ExamResult:
    exam_order = order(doctor, patient, code)
    collect_and_receive(exam_order, nurse or lab, lab)
    return services.enter_result(
        user=lab, order_item=item_of(exam_order, code), value=Decimal(value)
    )


def verified(doctor, patient, lab, verifier, code, value) -> ExamResult:
    result = entered(doctor, patient, lab, code, value)
    return services.verify_result(user=verifier, result=result)
