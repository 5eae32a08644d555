"""The pmh hub inside one participant's connector: a municipality holds its mothers,
children and vouchers and receives clinics' checkups and vaccinations as signed
contributions; a clinic records them through its own connector (docs/pmh.md, "The hub")."""
