# Hand-written groundedness items: (domain, context, [(question, answer, label), ...])
G = "grounded"; U = "ungrounded"
CTX = []
def add(domain, context, items):
    CTX.append((domain, " ".join(context.split()), items))

add("bank fees", """Northbridge Building Society — Current Account Fee Schedule (effective 1 March 2026).
Monthly account fee: £0 for the Everyday Account; £12 for the Premier Account (waived in any calendar month in which you pay in at least £3,000).
Arranged overdraft: 39.9% EAR variable. No interest is charged on the first £50 of arranged overdraft usage.
Unarranged overdraft: we do not allow unarranged borrowing. Payments that would take you past your limit will be returned, and we will not charge you for returned payments.
Foreign transactions: 2.75% of the transaction value for card purchases abroad; cash withdrawals abroad carry the 2.75% plus a £1.50 fee per withdrawal.
CHAPS payments: £25 per payment, made in branch or by phone.
Replacement cards: free for the first replacement in any 12-month period, £5 thereafter.""", [
("if a payment bounces cos im over my overdraft limit do they charge me for that", "No — Northbridge returns payments that would take you over your limit and doesn't charge for doing so.", G),
("What would it cost me to take cash out of an ATM while I'm in Spain?", "You'd pay 2.75% of the amount withdrawn plus a flat £1.50 for each withdrawal.", G),
("Is there any way to avoid the Premier monthly fee?", "Yes. The £12 fee is waived in any calendar month where you pay in £2,000 or more.", U),
("How much is a CHAPS payment if I set it up online?", "A CHAPS payment costs £25 and can be arranged through online banking.", U),
])

add("drug leaflet", """Package leaflet: information for the user. Ferrozine 200 mg film-coated tablets (ferrous fumarate).
What Ferrozine is used for: treating and preventing iron-deficiency anaemia.
How to take it: adults and children over 12 — one tablet two or three times a day. Swallow whole with water. Do not take with tea, coffee, milk or antacids, as these reduce absorption; leave at least two hours between them. Do not give this medicine to children under 12 except on a doctor's advice.
Possible side effects: dark or black stools are very common and harmless. Constipation, diarrhoea and stomach pain are common (may affect up to 1 in 10 people). Stop taking and see a doctor immediately if you notice an allergic reaction such as swelling of the face or difficulty breathing.
Storage: keep out of the sight and reach of children — an overdose of iron can be fatal to young children. Store below 25°C.""", [
("My poo has gone really dark since I started these. Should I stop taking them?", "According to the leaflet, dark or black stools are a very common side effect and are harmless, so that on its own isn't listed as a reason to stop.", G),
("can i just take it with my morning coffee", "Yes, coffee is fine as long as you swallow the tablet whole with it.", U),
("How many tablets a day can my 15 year old have?", "Up to three — anyone over 12 takes one tablet two or three times daily.", G),
("How likely is constipation with Ferrozine?", "Constipation is listed as rare, affecting fewer than 1 in 1,000 people.", U),
])

add("HR handbook", """4.3 Parental and family leave.
Employees with at least 26 weeks' continuous service by the 15th week before the expected week of childbirth qualify for enhanced maternity pay: 16 weeks at full pay, followed by 23 weeks at the statutory rate. Partners of any gender may take up to 4 weeks of paid partner leave at full pay, which must be taken within 8 weeks of the birth or placement. Shared parental leave is available in line with statutory rules; the company does not enhance shared parental pay.
Employees may request up to 5 days of unpaid emergency dependant leave per calendar year. Requests should be made to your line manager; HR will not require evidence unless more than 3 days are taken consecutively.
Keeping-in-touch days: up to 10 KIT days may be worked during maternity or adoption leave, paid at your normal daily rate.""", [
("Does the company top up shared parental pay at all?", "No. Shared parental leave follows the statutory rules and the company doesn't enhance the pay for it.", G),
("How much partner leave do I get and is it paid?", "Up to four weeks at full pay, which you need to use within eight weeks of the birth or placement.", G),
("Do I need to show a doctor's note for emergency dependant leave?", "Only if you take more than three days in a row; otherwise HR won't ask for evidence, and the days are paid at your normal rate.", U),
("How many keeping-in-touch days am I allowed?", "You can work up to 10 KIT days during maternity or adoption leave, and each one has to be agreed at least two weeks in advance.", U),
])

add("laptop spec sheet", """Aurelle Book 14 (model AB14-2026) — technical specifications.
Processor: 8-core, up to 4.8 GHz. Memory: 16 GB LPDDR5X, soldered (not upgradeable). Storage: 512 GB NVMe SSD in a single M.2 2280 slot (user-replaceable); no second slot.
Display: 14-inch, 2880 × 1800 OLED, 120 Hz, glossy.
Ports: 2 × USB-C (USB4, 40 Gbps, both support charging and DisplayPort output), 1 × USB-A 3.2 Gen 1, 3.5 mm headphone jack. No HDMI. No card reader.
Battery: 72 Wh; 65 W USB-C charger included. Weight: 1.29 kg. Wireless: Wi-Fi 7, Bluetooth 5.4. Operating temperature: 0–35 °C.""", [
("Can I add more RAM to this later on?", "No — the 16 GB of memory is soldered on, so it can't be upgraded.", G),
("will my monitor work over hdmi", "Not directly, because there's no HDMI port. Both USB-C ports do support DisplayPort output, though.", G),
("Could I fit a second SSD in it?", "Yes, there's a spare M.2 slot next to the 512 GB drive.", U),
("What's the battery life like?", "The sheet doesn't give a battery-life figure, but it does list an 80 Wh battery with a 65 W charger.", U),
])

add("train timetable", """Valley Line — Monday to Friday (from 14 December 2026).
Departures from Ashford Road: 06:12, 06:47, 07:15, 07:42, 08:20, then every 30 minutes until 16:50.
Calling at: Millbrook (+9 min), Castle Halt (+14 min, request stop), Denholm (+22 min), arriving Kingsport Central (+35 min).
The 07:15 does not call at Castle Halt or Denholm.
Last service: 23:05 from Ashford Road, terminates at Denholm.
Saturdays: first departure 07:10, then hourly.
Sundays: no service before 10:00; rail replacement buses run 10:00–14:00 on Sundays until 31 January 2027.""", [
("If I catch the 06:47 from Ashford Road, when do I get into Kingsport Central?", "At 07:22, since the run to Kingsport Central takes 35 minutes.", G),
("Can I take the 07:15 to Denholm?", "No, the 07:15 skips Denholm (and Castle Halt too).", G),
("does the last train go all the way to kingsport", "Yes, the 23:05 from Ashford Road is the last service and runs through to Kingsport Central.", U),
("When's the first train on a Saturday?", "The first Saturday departure is 07:10, and after that trains run every half hour.", U),
])

add("home insurance", """Section 3 — Escape of water.
We will cover loss or damage to your buildings caused by water escaping from a fixed water or heating installation, including the cost of removing and replacing any part of the building needed to find the source of the leak (trace and access), up to £5,000 per claim.
We will not cover:
- the first £350 of each claim (your escape of water excess);
- damage caused by water escaping from a shower cubicle or bath because of failed grouting or sealant;
- damage when your home has been unoccupied for more than 60 consecutive days;
- the cost of repairing the appliance or pipe from which the water escaped, unless it has been damaged by frost.""", [
("A pipe in the loft froze and split. Will they pay to fix the pipe itself?", "Yes. Repairs to the pipe are normally excluded, but there's an exception where the damage was caused by frost.", G),
("What's my excess if I claim for a leak?", "Each escape-of-water claim carries a £350 excess that you pay yourself.", G),
("Water got behind the tiles because the grout round my shower failed. Am I covered?", "Yes, leaks from a shower are covered as long as the house was lived in at the time.", U),
("I was away for 45 days and came back to a flooded kitchen. Does the unoccupied rule affect me?", "Yes — cover stops once the property has been empty for more than 30 days in a row, so this wouldn't be covered.", U),
])

add("gym terms", """FlexFit Membership Terms (extract).
7. Freezing your membership. Members on a 12-month contract may freeze their membership for between 1 and 3 months once per contract year, for a fee of £5 per month frozen. Freezes must be requested at least 7 days before your next payment date via the app or at reception. A freeze extends your minimum term by the length of the freeze. Medical freezes (with a doctor's note) are free of charge and may last up to 6 months.
8. Cancellation. After your minimum term, you may cancel with one full calendar month's notice. Cancellations cannot be made by phone. Members who relocate more than 25 miles from their nearest FlexFit club may cancel during the minimum term with proof of address.""", [
("Is there a joining fee?", "The terms extract doesn't mention a joining fee either way.", G),
("how much to freeze for 2 months?", "£10 altogether — it's £5 for each month you freeze.", G),
("If I freeze for a month, does my contract still end on the same date?", "Yes, a freeze doesn't change when your minimum term ends.", U),
("I'm moving about 15 miles away. Can I get out of my contract early?", "Yes, relocating lets you cancel during the minimum term as long as you show proof of your new address.", U),
])

add("cloud SLA", """Service Level Agreement — Nimbus Object Storage.
Monthly Uptime Percentage commitment: 99.9% for the Standard tier; 99.5% for the Infrequent Access tier.
Service Credits (percentage of the monthly bill for the affected tier):
Standard: 99.0% to <99.9% → 10%; 95.0% to <99.0% → 25%; below 95.0% → 100%.
Infrequent Access: 99.0% to <99.5% → 10%; below 99.0% → 25%.
Credits must be requested by opening a support case within 30 days of the end of the affected month. Credits are applied to future bills and are not refundable as cash. The SLA does not apply to outages caused by customer misconfiguration, scheduled maintenance announced at least 72 hours in advance, or beta features.""", [
("Our Standard bucket had 98.7% uptime in October. What credit are we owed?", "That sits in the 95.0–99.0% band, so the credit is 25% of that month's Standard-tier bill.", G),
("IA tier was at 98% last month, what do we get back", "A 100% service credit, because uptime dropped below 99%.", U),
("Can we take the credit as a refund to our card instead?", "No — credits only go against future bills and can't be paid out as cash.", G),
("Does planned maintenance count as downtime?", "Maintenance is excluded only if it was announced at least 48 hours ahead; otherwise it counts.", U),
])

add("council tax", """Council tax discounts and exemptions — Harlow Vale District Council.
Single person discount: if you are the only adult (18 or over) living in the property, you can get 25% off your bill. Some people are 'disregarded' and not counted as adults, including full-time students, student nurses, apprentices earning below a set amount, and people who are severely mentally impaired.
Empty properties: unfurnished empty homes are charged 100% from the first day. Homes empty and unfurnished for 2 years or more are charged a 100% premium (double the normal bill); for 5 years or more, a 200% premium.
Students: a property occupied only by full-time students is fully exempt (Class N). You will need to provide a certificate from your university or college.
To apply, use the online form; we may ask to inspect the property.""", [
("It's just me and my 19-year-old, who's at uni full time. Can I claim single person discount?", "Yes. Full-time students are disregarded, so you'd count as the only adult and could get 25% off.", G),
("My late mum's house has been empty and unfurnished for three years now, what will the bill be?", "Double the normal bill, because a 100% premium applies once a home has been empty and unfurnished for two years.", G),
("Is the first month free when a house is empty?", "Yes, there's a one-month exemption before the full charge starts.", U),
("Do students in a house share pay council tax?", "If everyone living there is a full-time student they pay half the usual charge under Class N, provided they send in a certificate from their college.", U),
])

add("ferry bookings", """Isles Link Ferries — Booking conditions.
Amendments: you can change your sailing date or time free of charge up to 48 hours before departure. Changes within 48 hours cost £15 per booking, plus any fare difference. No amendments can be made after check-in closes.
Check-in: vehicles must check in at least 45 minutes before departure; foot passengers 20 minutes. Passengers who arrive after check-in closes may be refused travel and treated as a no-show.
Cancellations: Saver fares are non-refundable. Flexi fares can be cancelled for a full refund up to 24 hours before departure.
Pets: dogs travel free but must remain in your vehicle or in the pet lounge; they are not permitted in passenger lounges, with the exception of assistance dogs.""", [
("How early do I need to be there if I'm walking on?", "Foot passengers need to check in at least 20 minutes before the sailing.", G),
("Can my spaniel sit with us in the lounge?", "Only assistance dogs are allowed in passenger lounges; otherwise your spaniel would have to stay in the car or the pet lounge.", G),
("We want to move our crossing, which is three days away. What will it cost?", "There's a £15 amendment fee, plus any difference in fare.", U),
("I booked a Saver fare for Saturday — can I cancel today (Thursday) and get my money back?", "Yes, Saver fares can be refunded up to 24 hours before departure, so you're still in time.", U),
])

add("festival tickets", """Brightwater Festival 2027 — Ticket FAQs.
Weekend camping tickets include entry Friday to Sunday and a pitch in the general campsites. Campervan passes are sold separately (£95) and one is needed per vehicle, not per person.
Under-12s go free but must be registered with an adult ticket holder in advance; the limit is two free child tickets per adult. Ages 12–17 need a teen ticket and must be accompanied by someone aged 18 or over.
Resale: tickets can only be resold through our official resale platform, at face value. Tickets bought elsewhere will be cancelled.
Gates open at 10:00 on Friday. Last entry is 21:00 on Saturday; there is no entry on Sunday.""", [
("there's 4 of us in the van, do we need 4 campervan passes??", "No, you just need one — the pass is per vehicle, not per person.", G),
("Could I arrive on Sunday morning?", "No. Entry closes at 9pm on Saturday and nobody is admitted on Sunday.", G),
("I've got three kids under 12. Can they all come free with my ticket?", "Yes, all under-12s go free as long as you register them in advance.", U),
("Can my 16-year-old go without an adult?", "She'd need a teen ticket, and can attend on her own if a parent signs a consent form.", U),
])

add("allotment rules", """Fernhill Allotment Society — Tenancy Rules (2026).
1. At least 75% of your plot must be under cultivation between April and October. Inspections take place in May and August.
2. Bonfires are permitted only between 1 November and 31 March, and only before 10 a.m. or after 4 p.m. Burning of plastics, treated wood or household waste is forbidden at all times.
3. Hosepipes may be used only to fill water butts or tanks; direct watering with a hose is not allowed.
4. Livestock: up to six hens may be kept with committee approval. Cockerels are not allowed.
5. Sheds must not exceed 6 ft × 4 ft and require written permission before construction.
6. Rent is due on 1 October each year.""", [
("Am I allowed a cockerel with my hens?", "No, cockerels aren't permitted. You can keep up to six hens, with the committee's approval.", G),
("Can I light a bonfire at lunchtime in December?", "No. December is within the bonfire season, but fires are only allowed before 10am or after 4pm.", G),
("is it ok to water the beans with the hose in july", "Yes, hoses are fine in the summer months provided at least 75% of your plot is cultivated.", U),
("When's the rent due?", "Rent is payable on 1 April each year.", U),
])

add("dog grooming", """Paws & Suds Grooming — price list and policies.
Full groom (bath, dry, clip, nails, ears): small dogs £38, medium £48, large £60, giant breeds from £75.
Bath & brush only: small £25, medium £32, large £40.
Nail clip (walk-in, no appointment needed): £8.
Matted coats: de-matting is charged at £10 per 15 minutes. If matting is severe we may shave the coat short for your dog's welfare.
Dogs must be fully vaccinated. We cannot groom dogs in season.
Late cancellations (less than 24 hours' notice) are charged 50% of the booked service. No-shows are charged in full.""", [
("Do you groom cats as well?", "The price list only covers dogs and says nothing about cats, so I can't tell from this.", G),
("Do I have to book for just a nail trim?", "No booking needed — nail clips are walk-in and cost £8.", G),
("How much is a full groom for a medium-sized dog?", "A full groom for a medium dog is £60.", U),
("If I cancel on the morning of the appointment what do I pay", "Nothing, as long as you ring before the appointment time.", U),
])

add("ski school", """Alpine Snowsport School — Group lessons.
Children's groups (ages 5–12): Sunday to Friday, 09:30–12:00, six mornings, €245 per child. Lunch supervision 12:00–14:00 is available for an extra €20 per day. Children under 5 join our Snow Garden (ages 3–4), 10:00–11:30, €190 for six sessions.
Adult groups (13+): Sunday to Friday, 13:30–16:00, €210.
Helmets are compulsory for all under-16s and can be hired at the meeting point for €4 per day.
Lift passes are not included in any lesson price. Children under 5 ski free on the lifts.
If lessons are cancelled by the school because of weather, the day is refunded; no refunds for lessons missed through illness or injury without travel insurance documentation.""", [
("Is the lift pass included in the lesson price?", "No, lift passes are extra for every type of lesson.", G),
("My daughter is four — which group would she go in and what does it cost?", "She'd join the Snow Garden, which runs from 10:00 to 11:30 and costs €190 for the six sessions.", G),
("Is there a discount if two siblings book?", "The school doesn't mention a sibling discount, but lunch supervision is included free with the children's groups.", U),
("Does my 17-year-old have to wear a helmet?", "Yes, helmets are compulsory for everyone under 18.", U),
])

add("water utility", """Your water bill explained — Tamesis Water.
Metered customers pay a standing charge of £38.50 a year for water and £42.10 for wastewater, plus volumetric charges of £1.92 per cubic metre (m³) of water supplied and £2.31 per m³ for wastewater. We assume 95% of the water you use returns to the sewer, so wastewater volume is billed at 95% of your metered volume.
If you pay by Direct Debit, you can choose monthly or half-yearly instalments. Customers who find it hard to pay can apply to our WaterHelp scheme, which caps bills at £320 a year for eligible households receiving means-tested benefits.
Leaks on your side of the boundary stop tap are your responsibility, but we offer one free leak repair per property.""", [
("How do they work out how much wastewater I'm charged for?", "It's taken as 95% of what your meter records, billed at £2.31 per cubic metre.", G),
("What's the charge per unit for the water itself?", "£1.92 per litre of water supplied.", U),
("Can I pay weekly?", "Weekly isn't one of the options listed — Direct Debit can be monthly or every six months.", G),
("what does waterhelp actually do", "It caps your annual bill at £320, and any household that struggles to pay can join, whether or not they get benefits.", U),
])

add("mortgage offer", """Mortgage Offer — Key Facts (extract).
Loan amount: £212,000. Term: 30 years. Repayment basis: capital and interest.
Initial rate: 4.19% fixed until 31 January 2029. Thereafter: our Standard Variable Rate, currently 7.49%.
Monthly payment during the fixed period: £1,036.12. Monthly payment thereafter (assuming the SVR is unchanged): £1,381.40.
Early repayment charge: 3% of the amount repaid if you repay before 31 January 2028; 2% from 1 February 2028 to 31 January 2029. No ERC after that date.
Overpayments: you may overpay up to 10% of the outstanding balance each calendar year without an ERC.
Product fee: £999, added to the loan. This offer is valid until 15 March 2027.""", [
("If we sell up and clear the mortgage in June 2028, what's the early repayment charge?", "It would be 2% of whatever you repay.", G),
("Do I need to pay the product fee upfront?", "No — the £999 is added to the loan rather than paid upfront.", G),
("What will my monthly payment be after the fixed rate ends?", "About £1,036 a month, assuming the variable rate doesn't change.", U),
("How much can I overpay each year without a penalty?", "Up to 10% of the original loan each year, which works out at £21,200.", U),
])

add("library fines", """Westbury Libraries — Borrowing and charges.
Adults can borrow up to 15 items at a time for 3 weeks. Items can be renewed up to 5 times online, by phone or in person, unless another customer has reserved them.
We no longer charge overdue fines on children's and teenagers' cards (under 18). Adult overdue charges are 25p per item per day, up to a maximum of £6 per item.
Lost or damaged items are charged at the replacement cost plus a £2.50 processing fee.
Reservations are free for books. Reservations for items from outside Westbury Libraries (interlibrary loans) cost £4.
If you owe £10 or more, you will not be able to borrow until the amount is reduced below £10.""", [
("My son's 14 — will he be fined if his books are late?", "No, overdue fines aren't charged on under-18 cards.", G),
("What's the most I can be fined for one late book?", "The charge stops going up at £6 per item.", G),
("Can I renew a book that someone else has reserved?", "Yes, you can still renew it up to five times online.", U),
("do i have to pay to reserve a book", "Yes, book reservations cost £4 each.", U),
])

add("courier delivery", """SwiftDrop Parcels — Delivery FAQs.
Standard delivery takes 2–3 working days; Next Day is available when ordered before 6 p.m. Monday to Thursday. Next Day orders placed on Friday are delivered on Monday.
If you're not in, the driver will try a neighbour, then leave the parcel in your chosen safe place if you've set one. If neither is possible, the parcel goes to your nearest SwiftDrop Point and you'll have 10 days to collect it before it is returned to the sender.
We do not deliver on Sundays. Saturday delivery is available for an extra £4.99 in most postcodes, but not in the Highlands & Islands.
Parcels needing a signature can't be left in a safe place or with a neighbour.""", [
("If I pay for Next Day on a Friday, when will it come?", "It will be delivered on the Monday.", G),
("The parcel needs a signature and I'm at work — can they just hand it to next door?", "No. Anything that needs a signature can't be left with a neighbour or in a safe place.", G),
("How long will they keep my parcel at the pickup point?", "You've got 14 days to collect it before it goes back to the sender.", U),
("Can I get Saturday delivery to my address in Inverness-shire in the Highlands?", "Yes, Saturday delivery is available there for an extra £4.99.", U),
])

add("tax office", """Self Assessment: deadlines and penalties.
Paper tax returns must reach us by 31 October. Online returns must be filed by 31 January following the end of the tax year. The balance of any tax owed is also due by 31 January.
If your return is up to 3 months late, you'll get a £100 penalty. After 3 months, daily penalties of £10 per day apply for up to 90 days (maximum £900). After 6 months, a further £300 or 5% of the tax due, whichever is higher. After 12 months, another £300 or 5%, whichever is higher.
You'll also be charged interest on late payments. You can appeal a penalty if you have a reasonable excuse, such as a serious illness or the death of a close relative shortly before the deadline.""", [
("What's the fine if I file online a week after the deadline?", "A £100 penalty, since it's less than three months late.", G),
("How high can the daily penalties go?", "They're £10 a day for up to 90 days, so they top out at £900.", G),
("When's the deadline for a paper return?", "Paper returns are due by 31 January, the same as online ones.", U),
("my accounting software crashed on 30 Jan, can I appeal the penalty", "Yes — software failure is listed as one of the reasonable excuses for an appeal.", U),
])

add("university admissions", """BSc Environmental Science — Entry requirements 2027.
A-levels: ABB, including at least one from Biology, Chemistry, Geography, Geology, Mathematics or Physics. General Studies and Critical Thinking are not accepted.
International Baccalaureate: 32 points overall, with 5 in two Higher Level subjects including a science or Geography.
BTEC: DDM in Applied Science or Countryside Management, accepted only alongside an A-level in a listed science at grade B.
English language: IELTS 6.5 overall with at least 6.0 in each component.
Contextual offers: applicants eligible for our Access scheme may receive an offer of BBC.
We do not normally interview, but applicants with non-standard qualifications may be invited to a conversation with an admissions tutor.""", [
("Does General Studies count as one of the three A-levels?", "No, General Studies isn't accepted — and nor is Critical Thinking.", G),
("I got 7.0 overall in IELTS but 5.5 in writing. Is that OK?", "That wouldn't meet the requirement, because every component needs to be at least 6.0.", G),
("Can I get in with just a BTEC?", "Yes, a DDM in Applied Science is enough by itself.", U),
("What's the contextual offer for Access scheme students?", "Eligible applicants may be made an offer of BBB.", U),
])

add("citizen science forum", """Pinned post — Garden Moth Count 2027 protocol (read before submitting!)
Hi all, quick reminder of how we want records. Run your trap on the same night each week, ideally Friday, between 1 March and 31 October. Switch on at dusk and empty the trap by 8 a.m. Record every macro-moth species and the number of individuals; micros are optional but very welcome. If you can't ID something, upload a photo to the 'ID help' thread rather than guessing — unverified records of scarce species will be held back from the dataset. Zero counts matter, so please submit nights when you caught nothing. Releases: keep catches in a shady spot and release them at dusk the next evening, not in daylight, to avoid birds. — Mod team""", [
("Is it worth submitting a night when the trap was empty?", "Yes, the mods specifically want empty nights sent in, because zero counts matter.", G),
("do I have to record micros too or just macros", "Just macros are required; micros are optional, though the team is glad to get them.", G),
("When should I let the moths go?", "Release them first thing in the morning, straight after you empty the trap.", U),
("Which night of the week should I run my trap?", "Any night you like, as long as you run it at least twice a week.", U),
])

add("housing co-op", """Riverside Housing Co-operative — Members' guide, section 5.
Every member is expected to contribute at least 4 hours a month of co-op work (committee work, gardening, repairs rota, etc.). Members who can't do this for health reasons can apply to the Membership Committee for a reduced commitment.
Rent is set annually at the AGM in June. Arrears of more than two months are referred to the Finance Committee, which will agree a repayment plan with the member before any further action.
Subletting is not permitted. Guests may stay for up to 14 nights in any 3-month period; longer stays need General Meeting approval.
Pets: cats and small caged animals are allowed. Dogs require the agreement of neighbours sharing the same entrance.""", [
("Could I sublet my room while I'm travelling this summer?", "No, subletting isn't allowed under the members' guide.", G),
("My partner wants to stay with me for three weeks. Is that allowed?", "Three weeks is more than the 14-night limit, so you'd need the General Meeting to approve it.", G),
("What do I need to do to get a dog?", "You'd need written approval from the Membership Committee.", U),
("How often is rent reviewed?", "Rent is reviewed every six months by the Finance Committee.", U),
])

add("recipe", """Overnight Focaccia (makes one 23 × 33 cm tray).
500 g strong white bread flour; 400 g lukewarm water; 10 g fine salt; 4 g instant yeast (or 12 g fresh yeast); 60 ml olive oil, divided.
Mix the flour, water, salt and yeast until no dry flour remains. Cover and refrigerate for 12 to 24 hours. Oil the tray with 30 ml of the olive oil, tip in the dough and leave at room temperature for 2–3 hours until it has doubled and is jiggly. Drizzle over the remaining oil, dimple with your fingertips, and bake at 230 °C (210 °C fan) for 22–25 minutes until deep golden. Cool on a rack for at least 15 minutes before cutting. Note: this dough is very wet — don't add extra flour.""", [
("I only have fresh yeast, how much do I use?", "Use 12 g of fresh yeast in place of the 4 g of instant.", G),
("What temperature for a fan oven?", "210 °C if your oven is fan-assisted.", G),
("How long does the dough sit in the fridge?", "At least 24 hours and up to 48.", U),
("The dough is super sticky, should I add more flour?", "Yes, work in a little extra flour until it's easy to handle.", U),
])

add("online chess", """KnightHub Fair Play & Rating FAQ.
New accounts start at a rating of 1500 with provisional status for the first 20 rated games, during which rating changes are larger.
Abandoning a game (letting your clock run out after disconnecting) counts as a loss. Repeatedly abandoning games may lead to a temporary restriction from rated play.
Engine assistance of any kind during a game is prohibited, including analysis boards and opening databases on another device. Opening books and databases may be consulted only in correspondence games lasting more than one day per move.
Accounts closed for fair play violations cannot be reopened, and rating points lost by their opponents in games against them are refunded.""", [
("Can I look at an opening database during a 5-minute blitz game?", "No. Databases are only allowed in correspondence games with more than a day per move.", G),
("what rating do new players start on", "1500, and it stays provisional for your first 20 rated games.", G),
("If my internet drops and my clock runs out, what happens to the game?", "It's recorded as a draw.", U),
("I lost to someone who got banned for cheating. Do I get my points back?", "Yes, your rating points are refunded, and the banned player can appeal to have their account reopened within 30 days.", U),
])

add("residents' parking", """Zone K Residents' Parking — Permit information.
Residents of properties within Zone K can apply for up to two permits per household. The first permit costs £85 a year; the second costs £140. Vehicles with zero tailpipe emissions get a 50% discount on either permit.
Visitor vouchers are sold in books of 10 for £12; each voucher is valid for one day (until midnight). Households may buy up to 20 books a year.
Permits are valid only in Zone K bays, Monday to Saturday, 8.30 a.m. to 6.30 p.m. Outside these hours and on Sundays, parking in Zone K bays is unrestricted.
Properties in new developments built after 2018 are not eligible for permits.""", [
("Our second car is fully electric. What would its permit cost?", "£70 — half the usual £140 for a second permit.", G),
("Do I need a permit to park in a Zone K bay on a Sunday?", "No, parking in Zone K bays is unrestricted on Sundays.", G),
("How long does one visitor voucher last?", "Each voucher covers 24 hours from the time it's activated.", U),
("We live in a new-build in Zone K finished in 2021. Can we get a permit?", "Yes, any household in Zone K can have up to two permits.", U),
])

add("vet practice", """Oakfield Vets — Pet Health Club (monthly plan).
Dog plan £16.50/month; cat plan £13.75/month; rabbit plan £9.00/month.
Included: annual booster vaccination, two health checks a year, flea and worming treatment for the whole year, and a nail clip at each health check.
Also included: 10% off all other treatments, except referrals, out-of-hours care and food.
Rabbits: the rabbit plan includes myxomatosis and RVHD vaccinations but not flea treatment.
Plans run for a minimum of 12 months. If you cancel early you must pay the difference between what you've paid and the full price of the items you've already used.""", [
("Does the 10% discount apply to out-of-hours visits?", "No, out-of-hours care is excluded from the discount.", G),
("Are fleas covered on the rabbit plan?", "Flea treatment isn't part of the rabbit plan, though it does include the myxomatosis and RVHD vaccinations.", G),
("How much a month is it for a cat?", "£16.50 a month.", U),
("Can I cancel after six months without paying anything extra?", "Yes, once you've been on the plan for six months you can cancel at no cost.", U),
])

add("airline baggage", """Baggage allowance — economy fares.
Light: one under-seat bag (max 40 × 30 × 15 cm). No cabin trolley bag. No checked bag.
Standard: one under-seat bag plus one cabin bag (max 55 × 40 × 23 cm, 10 kg). Checked bags can be added for a fee.
Flex: as Standard, plus one 23 kg checked bag.
Checked bags over 23 kg and up to 32 kg incur an overweight charge of €60 per bag, per flight. Bags over 32 kg are not accepted.
Sports equipment (skis, golf clubs) counts as a checked bag if it weighs 23 kg or less.
Infants (under 2) without their own seat may bring one changing bag and one fully collapsible pushchair free of charge.""", [
("Can I bring a wheelie cabin bag on a Light fare?", "No — Light only includes a small under-seat bag, not a trolley bag.", G),
("My suitcase weighs 27 kg. What extra will I pay?", "An overweight charge of €60 for that bag on each flight.", G),
("Does Flex come with a checked bag, and how heavy can it be?", "Yes, Flex includes one checked bag of up to 32 kg.", U),
("can I check a 35kg bag if I pay extra", "Yes, bags over 32 kg are accepted with a heavy-bag fee of €100.", U),
])

add("leisure centre", """Greenlane Leisure Centre — Main pool timetable (term time).
Monday: 06:30–09:00 lane swim; 09:00–12:00 schools (closed to public); 12:00–13:30 lane swim; 16:00–18:00 swimming lessons (teaching pool only; main pool lane swim continues); 18:00–21:00 public swim.
Tuesday: 06:30–09:00 lane swim; 10:00–11:00 aquafit; 12:00–13:30 over-50s swim; 18:00–20:00 club training (closed to public).
Wednesday: 06:30–09:00 lane swim; 12:00–13:30 lane swim; 19:00–20:00 women-only swim.
Saturday: 08:00–12:00 family fun session, with inflatables from 10:00; 13:00–17:00 public swim.
Last entry is 30 minutes before the end of each session.""", [
("Can I swim lengths at 7pm on a Tuesday?", "No — from 6 to 8 on Tuesday evenings the pool is given over to club training and isn't open to the public.", G),
("What time do the inflatables come out on Saturday?", "From 10am, part-way through the 8-till-12 family session.", G),
("Can I go for a swim at 10am on a Monday?", "Yes, Monday from 9 until 12 is open to the public for lane swimming.", U),
("What's the latest I can turn up for the Wednesday women-only swim?", "You can get in up until 19:45.", U),
])

add("car rental", """Rental terms — Excess and fuel.
Every rental includes Collision Damage Waiver with an excess of €1,200 for categories A–C and €2,000 for categories D–F. You can reduce the excess to €0 by buying Excess Protection at the desk for €18 per day (maximum charge €270 per rental).
Excess Protection does not cover tyres, windscreens, the underside of the vehicle, or loss of keys.
Fuel policy: Full-to-Full. Collect the car with a full tank and return it full. If it is not returned full, we charge for the missing fuel plus a €25 refuelling service fee.
Additional drivers: €9 per day, maximum €90 per rental. Drivers under 25 pay a young driver surcharge of €15 per day.""", [
("What's the most I'd pay for Excess Protection on a three-week rental?", "€270, because the €18 daily rate is capped at that amount per rental.", G),
("Would Excess Protection cover a cracked windscreen?", "No, windscreens are one of the things it excludes.", G),
("What's the excess on a category E car?", "The excess for a category E car is €1,200.", U),
("What happens if I bring it back half full?", "You'll pay for the missing fuel plus a £25 refuelling service fee.", U),
])

add("pharmacy", """Repeat Prescription Service — Market Street Pharmacy.
Order your repeat prescription at least 3 working days before you need it. Requests made after 2 p.m. are treated as received the next working day.
We can collect prescriptions from Hillcrest Surgery and Market Street Medical Centre only. For other surgeries, please arrange for the prescription to be sent to us electronically.
Home delivery is free for housebound patients and for patients aged 70+. For others, delivery costs £3.50 per delivery within 5 miles.
Controlled drugs cannot be left with neighbours or in a safe place and must be signed for by the patient or a named representative.
In England, prescriptions cost £9.90 per item unless you are exempt.""", [
("I'm 72. Do I have to pay for delivery?", "No, delivery is free for anyone aged 70 or over.", G),
("If I put my request in at 4pm on a Monday, when does it count as received?", "It's treated as received on Tuesday, the next working day.", G),
("Can you collect my prescription from Parkside Surgery?", "Yes, the pharmacy collects from all the local surgeries.", U),
("Can my morphine be left with a neighbour if I'm out?", "Controlled drugs can go to a neighbour as long as you've given written consent beforehand.", U),
])

add("broadband contract", """Fibre 500 — Contract summary.
Minimum term: 24 months. Monthly price: £34.00 for the first 24 months; from month 25 onwards the price becomes £41.00.
Annual price rise: each April the monthly price increases by £3.00. This applies during and after the minimum term.
Set-up fee: £0. Router: included; it must be returned within 30 days of leaving or a £60 charge applies.
Early termination: if you leave before the end of the minimum term, you pay the monthly charges left in your minimum term, less a discount for services you no longer receive.
Speeds: average download speed 500 Mbps at peak times (8–10 p.m.); minimum guaranteed download 250 Mbps. If speeds fall below the minimum guaranteed for 30 days in a row and we can't fix it, you may leave without penalty.""", [
("Is there anything to pay to get set up?", "No, the set-up fee is £0.", G),
("When would I get charged for the router?", "Only if you don't send it back within 30 days of leaving — then it's £60.", G),
("Will my price go up during the 24 months?", "No, it's fixed at £34 a month until month 25.", U),
("If my speed is rubbish can I leave free?", "Yes, if speeds are below 250 Mbps for 14 days in a row you can leave without penalty.", U),
])

add("charity run", """Riverside 10K — Entry terms.
Entry fee: £28 (affiliated club runners £26). Minimum age on race day: 15. Runners aged 15–17 need a parent or guardian's signature on the entry form.
Transfers: you may transfer your place to another runner until 30 April via your online account, for a £5 admin fee. After that date, no transfers. Running with someone else's number will lead to disqualification of both runners.
Refunds: entry fees are non-refundable. If the event is cancelled because of extreme weather, entrants will be offered a place in the following year's race instead of a refund.
Headphones: permitted, but we recommend bone-conduction models; runners must be able to hear marshal instructions.
The course closes 1 hour 45 minutes after the start.""", [
("Are headphones allowed?", "Yes, though they suggest bone-conduction ones, and you must still be able to hear the marshals.", G),
("If the race gets called off because of a storm do I get a refund", "No refund — you'd be offered a place in next year's race instead.", G),
("Can my 14-year-old run it with me?", "Yes, provided a parent or guardian signs the entry form.", U),
("I've picked up an injury. Can I transfer my place to a friend in mid-May?", "Yes, transfers are allowed right up to race day for a £5 admin fee.", U),
])

add("hotel booking", """Harbour View Hotel — Booking information.
Check-in from 15:00; check-out by 11:00. Late check-out until 14:00 can be requested at reception for £25, subject to availability.
Breakfast is served 07:00–10:00 on weekdays and 07:30–10:30 at weekends, and is included in Bed & Breakfast rates only.
Parking: our car park has 12 spaces, available on a first-come, first-served basis at £12 per night. Spaces cannot be reserved.
Children under 3 stay free in a cot. Extra beds for children aged 3–11 are £20 per night including breakfast.
Cancellation: flexible rates can be cancelled free of charge until 14:00 two days before arrival; advance purchase rates are non-refundable and cannot be changed.""", [
("Can I reserve a parking space for our stay?", "No — spaces can't be reserved; it's first come, first served, at £12 a night.", G),
("What time is breakfast on a Sunday?", "At weekends it's served from 7:30 to 10:30.", G),
("I booked an advance purchase rate. Can I move my dates?", "You can change the dates once free of charge, but you can't get a refund.", U),
("How much is an extra bed for our 5-year-old?", "It's £20 a night, with breakfast charged separately.", U),
])

add("nursery fees", """Little Acorns Nursery — Fees 2026/27.
Full day (08:00–18:00): £72. Morning session (08:00–13:00) or afternoon session (13:00–18:00): £42.
Funded hours: eligible children can receive up to 30 hours a week of term-time funding. We offer funded places stretched across 51 weeks at 22.8 hours a week. A consumables charge of £6 per day applies to funded sessions to cover meals, nappies and activities; this charge is optional, and parents who opt out must provide their own lunch and nappies.
Sibling discount: 10% off the older child's fees.
Notice: one month's written notice is required to reduce sessions or leave. Fees are payable for closure days, bank holidays and holidays taken by the family, but not for the week between Christmas and New Year, when we are closed.""", [
("Is the £6 consumables charge compulsory?", "No, it's optional — but if you opt out you'll need to send in your child's lunch and nappies.", G),
("Do we still pay when we go on holiday?", "Yes, fees are still payable during family holidays.", G),
("Which child gets the sibling discount?", "The younger child gets 10% off.", U),
("Do we pay for the week between Christmas and New Year?", "Yes, like other closure days, that week is charged as normal.", U),
])

add("bus pass", """Concessionary bus pass — who can apply.
You can get a free older person's bus pass when you reach State Pension age. A disabled person's pass is available at any age to people who meet at least one of the eligibility criteria, for example being registered blind or partially sighted, or being unable to walk or having considerable difficulty walking.
Travel times: passes are valid on local buses from 09:30 to 23:00 Monday to Friday, and all day at weekends and on bank holidays. Holders of a disabled person's pass may also travel before 09:30 on weekdays.
Companion passes are issued only to disabled applicants who cannot travel alone; they are not available with older person's passes.
Passes are not valid on trams, trains or coaches. Replacement for a lost pass costs £10.""", [
("I've got the older person's pass — can I use it at quarter to nine on a Tuesday?", "No, on weekdays the older person's pass only works from 9:30.", G),
("Does my bus pass work on the tram?", "No, passes aren't valid on trams.", G),
("Can I get a companion pass to go with my older person's pass?", "Yes, a companion pass can be added for any pass holder who asks for one.", U),
("How much is it to replace a lost pass?", "The first replacement is free; after that it's £10.", U),
])

add("coworking space", """HiveWorks Coworking — Membership options.
Hot Desk: £180/month. Any free desk, 08:00–19:00 weekdays. Includes 2 hours of meeting room credit per month.
Dedicated Desk: £290/month. Your own desk with lockable pedestal, 24/7 access. Includes 5 hours of meeting room credit.
Private Office (4 people): from £1,200/month. 24/7 access, 10 hours of meeting room credit.
Unused meeting room credit does not roll over to the next month. Extra meeting room time costs £20 per hour for members.
Mail handling is included with Dedicated Desk and Private Office plans; Hot Desk members can add it for £25/month.
Notice period: one month for Hot Desk, two months for Dedicated Desk and Private Office.""", [
("As a hot desker, can I come in at 9pm to finish something?", "No, Hot Desk access is limited to 8am–7pm on weekdays.", G),
("Is there a kitchen or free coffee?", "The membership options don't mention a kitchen or any refreshments.", G),
("Do unused meeting room hours carry over?", "Yes, unused hours roll into the next month, up to a maximum of 10.", U),
("Is mail handling included with a hot desk?", "Yes, mail handling comes with all three plans.", U),
])
