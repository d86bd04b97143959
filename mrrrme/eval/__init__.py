"""The evaluation harness: datasets on disk -> predictions per modality -> metrics, report and learned fusion."""
