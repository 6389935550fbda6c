"""hr/: the HR policies of Kestrel Analytics, the company behind Kestrel."""

from datetime import date

from sample_docs.corpus import Doc

DOCUMENTS = (
    Doc(
        "hr/employee-handbook-2024.pdf",
        "Employee Handbook 2024",
        "Helen Carter",
        date(2024, 1, 8),
        """
## Welcome

This handbook describes how we work at Kestrel Analytics and the policies that apply to all
employees in every country where we employ people directly. Where local law gives you more,
local law applies. Questions go to people@kestrel.example or to your HR partner.

## Working hours

We are a remote-first company across time zones from UTC-8 to UTC+3. Everyone keeps core
collaboration hours of 11:00 to 15:00 in their own time zone on weekdays. Outside core hours
you organise your own time. A full-time week is 40 hours, or the legal standard where lower.

<<page>>

## Paid time off

Full-time employees receive 25 days of paid time off per calendar year, on top of public
holidays, accruing monthly. Part-time employees receive a pro-rated amount. You may carry
over up to 5 unused days into the next year; carried-over days must be used by March 31 or
they expire. We expect everyone to take at least 15 days a year, including one block of at
least 5 consecutive working days.

## Requesting time off

Request time off in the HR system at least two weeks in advance for absences of 3 days or
more, and at least two working days in advance for shorter ones. Managers approve or
decline within 3 working days.

<<page>>

## Sick leave

Employees receive up to 10 days of paid sick leave a year, separate from paid time off. A
doctor's note is needed only for absences of more than 3 consecutive days. Sick leave can
also be used to care for a sick child, partner or parent.

## Public holidays

Employees observe the public holidays of the country they work in. In addition, the whole
company closes between December 24 and January 1, and on the last Friday of July, the
company-wide rest day.

<<page>>

## Company equipment

Every employee receives a laptop, refreshed every 3 years, and may keep their old one
after it is wiped. Lost or stolen equipment must be reported to it@kestrel.example within 24
hours.

## Who to contact

- HR questions and policies: people@kestrel.example
- Payroll: payroll@kestrel.example
- IT and equipment: it@kestrel.example
- Concerns about conduct: the ethics line, described in the Code of Conduct
""",
        ("handbook", "pto", "sick-leave"),
    ),
    Doc(
        "hr/parental-leave.docx",
        "Parental Leave Policy",
        "Helen Carter",
        date(2024, 4, 2),
        """
## Who is eligible

Every employee who has worked at Kestrel Analytics for at least 90 days when the child is
born, adopted or placed in foster care is eligible, whatever their gender and however they
become a parent.

## How much leave

- Birthing parents receive 20 weeks of fully paid leave.
- Non-birthing parents, including adoptive and foster parents, receive 12 weeks of fully
  paid leave.
- Leave can be taken in up to two blocks within 12 months of the birth or placement.

## Phased return

After leave, parents can work 60 percent of their usual hours at full pay for up to 4 weeks.
Agree the schedule with your manager before the leave ends.

## Before the leave

Tell your manager and HR at least 8 weeks before the expected start of the leave, or as soon
as you can for adoption and foster care. HR will confirm the dates, your pay and any
statutory payments in writing within 5 working days.

## During the leave

Your benefits continue as usual, and paid time off keeps accruing. You may agree up to 10
keeping-in-touch days with your manager; they are paid and do not shorten the leave.
""",
        ("parental-leave", "benefits"),
    ),
    Doc(
        "hr/remote-work.md",
        "Remote Work and Home Office",
        "Jonas Weber",
        date(2023, 6, 19),
        """
## Where you can work

You can work from anywhere in the country where you are employed. Working from another
country is allowed for up to 30 days in any 12 months, with your manager's approval and a
check by HR for tax and immigration rules. Longer stays need a formal relocation.

## Home office stipend

New employees receive a one-time home office stipend of $1,200 (or the local equivalent) for a
desk, chair, monitor and other equipment, to be spent within the first 6 months. A further
$400 is available every 3 years for replacements.

## Monthly allowances

- Internet: $75 per month, paid with your salary.
- Co-working space: up to $250 per month, reimbursed against receipts, for those who prefer
  not to work from home.

## Meeting in person

Each team meets in person twice a year for a week, and the whole company once a year at the
annual summit. Travel for these is booked under the Travel Policy.

## Security at home

Use the company VPN on public networks, lock your screen when you step away, and never let
others use your work laptop.
""",
        ("remote", "stipend", "allowances"),
    ),
    Doc(
        "hr/expense-policy.html",
        "Expense Reimbursement Policy",
        "Jonas Weber",
        date(2024, 2, 5),
        """
## Principles

Spend company money as if it were your own. Expenses must be necessary for work, reasonable
in cost and submitted with a receipt.

## Submitting expenses

Submit expenses in the expense tool within 30 days of the purchase. A receipt is required
for every expense of $25 or more. Reimbursements are paid with the next payroll run after
approval, usually within 14 days.

## Approvals

- Up to $500: your manager approves.
- From $500 to $5,000: your manager and your department head approve.
- Above $5,000: the CFO approves, and a purchase order is usually the better route.

## Meals

Meals while travelling are covered up to $75 per day. Team meals with a manager present are
covered up to $60 per person. Alcohol is reimbursed only at team events approved in advance.

## Not reimbursed

Fines, including parking and speeding tickets, personal entertainment, upgrades to business
class that the Travel Policy does not allow, and lost luggage fees.
""",
        ("expenses", "reimbursement"),
    ),
    Doc(
        "hr/travel-policy.txt",
        "Travel Policy",
        "Jonas Weber",
        date(2024, 2, 5),
        """
## Booking

Book all business travel through Navan, our travel booking tool, at least 14 days ahead
when you can. Bookings made in Navan are paid by the company directly; travel booked
elsewhere is reimbursed only if Navan could not offer it.

## Flights

Economy class for flights under 6 hours. Premium economy is allowed for flights of 6 hours
or more, and business class for flights over 10 hours with your department head's approval.

## Hotels

The nightly cap is $250, or $350 in New York, London, San Francisco, Zurich and Tokyo. Stays
with friends or family earn a $50 per night allowance instead.

## Per diem and ground transport

Meals are covered under the Expense Policy, up to $75 per day. Take public transport or a
shared ride where reasonable; taxis are fine late at night or when carrying equipment. Car
rentals need manager approval and must include the insurance offered in Navan.

## Safety

If you travel to a country with a travel advisory of level 3 or higher, get approval from
the People team before booking.
""",
        ("travel", "booking"),
    ),
    Doc(
        "hr/performance-reviews.docx",
        "Performance Reviews and Promotions",
        "Helen Carter",
        date(2023, 8, 28),
        """
## The cycle

Reviews happen twice a year, in March and September. Each review has a self-assessment,
feedback from two to four peers chosen with your manager, and a written review from your
manager. The whole cycle takes about four weeks.

## Ratings

Managers rate performance on a five-point scale: Below expectations, Partially meets, Meets,
Exceeds and Greatly exceeds. Ratings are calibrated across each department so that the same
work earns the same rating in every team.

## Promotions

Promotions are decided in the September cycle only. Your manager writes a promotion case
against the next level's expectations, and a committee of three senior people outside your
team reviews it. Promotions take effect on October 1 with a salary increase of at least 8
percent.

## Pay reviews

Salaries are reviewed every year in March against market data for each role and location.
Results are communicated by April 15 and take effect on April 1.

## When things go wrong

If your performance is below expectations, your manager will agree a written improvement
plan with you, lasting 60 days, with clear goals and weekly check-ins.
""",
        ("performance", "promotion", "reviews"),
    ),
    Doc(
        "hr/onboarding-checklist.md",
        "New Hire Onboarding Checklist",
        "Jonas Weber",
        date(2024, 9, 9),
        """
## Before day one

- IT ships your laptop to arrive at least 3 working days before your start date.
- You receive an invitation to the HR system to enter your bank and tax details.
- Your manager assigns you an onboarding buddy from another team.

## Week one

- Day 1: welcome call with HR at 15:00 UTC, account setup, and a 1:1 with your manager.
- Set up two-factor authentication on your Google account, Slack and GitHub.
- Read the Employee Handbook, the Code of Conduct and the Security Policy, and confirm you
  have read them in the HR system by the end of the week.
- Meet your buddy for at least 30 minutes.

## First 30, 60 and 90 days

By day 30, ship a first small change or complete a first deliverable. By day 60, own a piece
of work end to end. At day 90, your manager holds a review of the probation period; the
probation period is 90 days in most countries and 6 months in Germany.

## Engineers

Engineers also shadow two full on-call rotations before joining one, and complete the
production access training before getting access to production systems.
""",
        ("onboarding", "new-hires"),
    ),
    Doc(
        "hr/code-of-conduct.html",
        "Code of Conduct",
        "Helen Carter",
        date(2023, 5, 15),
        """
## Our standard

We treat each other, our customers and partners with respect. Harassment, discrimination and
retaliation are not tolerated, at work, at company events, or online when it involves
colleagues.

## Conflicts of interest

Tell your manager and HR in writing about any outside job, investment or relationship that
could influence your decisions at work. Gifts from customers or vendors worth more than $100
must be declined or reported.

## Reporting a concern

You can raise a concern with your manager, your HR partner, or the independent ethics line,
which is available 24 hours a day by phone and web and accepts anonymous reports. Every
report is acknowledged within 2 business days and an investigation begins within 10
business days.

## No retaliation

Nobody may be punished for raising a concern in good faith or for taking part in an
investigation. Retaliation is itself a breach of this code.

## Consequences

Breaches of this code can lead to disciplinary action up to and including dismissal.
""",
        ("conduct", "ethics"),
    ),
)
