"""Codecs of arzip, one subpackage per modality (installed as ``arzip.codecs``)."""
